"""The diagnostic report written when an alert opens (issue 7 part 4): rendering and delivery.

- page.py     the summary (slo/diagnosis) as one self-contained HTML page
- svg.py      the page's inline SVG charts
- files.py    file names, URLs and writing the HTML and JSON files
- feed.py     reading summaries from the slo-diagnostics topic into a bounded store
- handler.py  the executor's `diagnostic_report` action
"""
