/*
 * Functions ledgerbox never uses: each has a bounded or checked replacement.
 * Include this last in every .c file so a slip fails the build.
 */
#ifndef LEDGERBOX_BANNED_H
#define LEDGERBOX_BANNED_H

#define BANNED(func) sorry_##func##_is_banned_in_ledgerbox

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef gets
#define gets(x) BANNED(gets)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)

#endif
