/* unicode.c - strict UTF-8 and the letter/number/space classes (see unicode.h). */
#include "models/unicode.h"

int dr_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
    uint8_t b0 = s[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    int len;
    uint32_t c, min;
    if ((b0 & 0xE0) == 0xC0) len = 2, c = b0 & 0x1F, min = 0x80;
    else if ((b0 & 0xF0) == 0xE0) len = 3, c = b0 & 0x0F, min = 0x800;
    else if ((b0 & 0xF8) == 0xF0) len = 4, c = b0 & 0x07, min = 0x10000;
    else return 0; /* continuation byte or 0xF8..0xFF as a lead byte */
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    /* Over-long forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8. */
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return len;
}

int dr_utf8_encode(uint32_t cp, uint8_t out[4]) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

size_t dr_utf8_validate(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) { /* ASCII runs are the common case */
            i++;
            continue;
        }
        uint32_t cp;
        int len = dr_utf8_decode(s + i, n - i, &cp);
        if (!len) return i;
        i += (size_t)len;
    }
    return n;
}

static int is_white_space(uint32_t cp) {
    /* The Unicode White_Space property (PropList.txt), which is what \s means in the
     * Unicode mode of Oniguruma and Rust regex. */
    if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
    if (cp < 0x85) return 0;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

unsigned dr_unicode_class(uint32_t cp) {
    if (cp < 0x80) { /* ASCII without the table */
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return DR_UC_LETTER;
        if (cp >= '0' && cp <= '9') return DR_UC_NUMBER;
        if (cp == '\r' || cp == '\n') return DR_UC_SPACE | DR_UC_NEWLINE;
        return is_white_space(cp) ? DR_UC_SPACE : 0;
    }
    if (is_white_space(cp)) return DR_UC_SPACE;
    int lo = 0, hi = dr_unicode_num_ranges - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < dr_unicode_ranges[mid].lo) hi = mid - 1;
        else if (cp > dr_unicode_ranges[mid].hi) lo = mid + 1;
        else return dr_unicode_ranges[mid].cls;
    }
    return 0;
}
