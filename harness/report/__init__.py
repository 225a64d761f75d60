"""Reports: terminal, JSON journal, JUnit XML, Markdown and HTML."""
