// Behaviour the pages share, kept out of the HTML: the Content-Security-Policy allows no
// inline event handlers (marketplace/headers/policy.py).

// A form with data-confirm="question" is sent only once the person confirms the question.
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
