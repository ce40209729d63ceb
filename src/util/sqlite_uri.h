/*
 * sqlite_uri: how ledgerbox names a dataset's SQLite file to SQLite.
 */
#ifndef LEDGERBOX_SQLITE_URI_H
#define LEDGERBOX_SQLITE_URI_H

/* "file:PATH?mode=ro&immutable=1" with every byte but letters, digits and
 * "-._~/" escaped as %XX, so any file name survives; an absolute path gets
 * an empty authority ("file://" + "/x") so that a path starting with "//"
 * is never read as a host name. Read-only and immutable: SQLite neither
 * writes nor locks the file. malloc'd; NULL when out of memory. */
char *sqlite_ro_uri(const char *path);

#endif
