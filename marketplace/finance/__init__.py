"""The finance desk: the platform's books as finance staff read them."""
