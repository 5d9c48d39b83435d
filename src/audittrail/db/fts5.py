"""SQLite's full-text index of records' words (search_words.py): one FTS5 table whose external
content is records, its rowid a record's seq. The service writes it itself, beside the records
(log/append.py, log/search_index.py), rather than through triggers an operator could drop
unnoticed; migration 0007 creates it. PostgreSQL indexes the same words with GIN instead.

unicode61's token characters are given as letters, numbers, private use and combining marks,
as search_words' are: by default marks would separate, splitting `हिन्दी` in three.
"""

from __future__ import annotations

from sqlalchemy import column, table

CREATE = (
    "CREATE VIRTUAL TABLE records_search USING fts5(search_text, content='records', "
    "content_rowid='seq', tokenize=\"unicode61 remove_diacritics 0 categories 'L* N* Co M*'\")"
)
REBUILD = "INSERT INTO records_search (records_search) VALUES ('rebuild')"
INSERT = "INSERT INTO records_search (rowid, search_text) VALUES (?, ?)"
# External content: FTS5 forgets a row by the words it was given for it.
DELETE = "INSERT INTO records_search (records_search, rowid, search_text) VALUES ('delete', ?, ?)"
TABLE = table("records_search", column("rowid"), column("records_search"))
