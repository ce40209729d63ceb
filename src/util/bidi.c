/* bidi: see bidi.h. Matches the UTF-8 encodings directly: every control
 * listed is two (U+061C) or three bytes, so no decoding is needed. */
#include "util/bidi.h"

#include "util/banned.h"

unsigned bidi_control_find(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i + 1 < len; i++) {
		if (p[i] == 0xD8 && p[i + 1] == 0x9C)
			return 0x061C;
		if (p[i] != 0xE2 || i + 2 >= len)
			continue;
		if (p[i + 1] == 0x80 && ((p[i + 2] >= 0xAA && p[i + 2] <= 0xAE) ||
					 p[i + 2] == 0x8E || p[i + 2] == 0x8F))
			return 0x2000u + (p[i + 2] & 0x3Fu);
		if (p[i + 1] == 0x81 && p[i + 2] >= 0xA6 && p[i + 2] <= 0xA9)
			return 0x2040u + (p[i + 2] & 0x3Fu);
	}
	return 0;
}
