"""The monthly ministerial briefing: a 2-4 page PDF (or HTML) in English or Chinese.

One module per job, each small enough to read at once:

- `content`  what the briefing says, as plain data, from the same functions as the
             dashboard (tiles, change sentences, gaps, take-up) over `metrics.query`;
- `charts`   the dashboard's trend figures drawn as PNG by Kaleido in Chromium;
- `render`   Jinja2 HTML (`templates/`) and WeasyPrint PDF;
- `records`  writing a briefing into the reports folder and recording it in the store;
- `schedule` which month is due on the configured working day (the worker's `report` step).

`civic-metrics report` and the worker call `records.write`; the dashboard's Briefings page
lists what `records` recorded. See docs/briefing.md.
"""
