"""The views of a results document: the terminal, Markdown and HTML reports (with their charts),
the gate's comparison, and writing them; each reads the document, none computes what it shows."""
