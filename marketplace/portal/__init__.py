"""Each organization's branded portal: /o/<slug>, and the settings its owners keep."""
