/*
 * bidi: finds the Unicode controls that change the direction text is shown
 * in (U+202A-U+202E embeddings and overrides, U+2066-U+2069 isolates,
 * U+200E/U+200F marks, U+061C the Arabic letter mark). In a name they make
 * it display as another name ("invoice\u202Egnp.exe" reads "invoiceexe.png"),
 * so names that people pick files or runs by must not hold them.
 */
#ifndef LEDGERBOX_BIDI_H
#define LEDGERBOX_BIDI_H

#include <stddef.h>

/* The code point of the first such control in the UTF-8 text s (len
 * bytes), or 0 when there is none. */
unsigned bidi_control_find(const char *s, size_t len);

#endif
