"""Server-rendered pages: base layout, macros, CSS, i18n catalogues."""
