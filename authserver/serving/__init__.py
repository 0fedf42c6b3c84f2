"""The production server behind ``authserver serve``: its settings (:mod:`.options`) and the granian
wiring (:mod:`.runner`). The CLI command (:mod:`authserver.cli.serve`) only parses and hands over."""
