/* Tests of src/io/safetensors and src/io/half: F16/BF16 conversions against reference
 * values and an exhaustive round trip, write/read round trips, every class of corrupt
 * header rejected with the file and tensor named, and a seeded mutation fuzz loop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/rng.h"
#include "io/half.h"
#include "io/safetensors.h"
#include "testutil.h"

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Naive reference: the value of a half bit pattern by its definition. */
static double f16_reference(uint16_t h) {
    int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
    double v;
    if (exp == 31) v = mant ? NAN : INFINITY;
    else if (exp == 0) v = ldexp(mant, -24);
    else v = ldexp(1024 + mant, exp - 25);
    return sign ? -v : v;
}

static void test_f16_conversions(void **state) {
    (void)state;
    /* Every half value widens exactly and narrows back to itself (NaNs stay NaN). */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = dr_f16_to_f32((uint16_t)h);
        double ref = f16_reference((uint16_t)h);
        if (isnan(ref)) {
            assert_true(isnan(f));
            uint16_t back = dr_f32_to_f16(f);
            assert_true((back & 0x7c00) == 0x7c00 && (back & 0x3ff) != 0);
            continue;
        }
        if ((double)f != ref) fail_msg("f16 %04x -> %g, expected %g", h, (double)f, ref);
        if (dr_f32_to_f16(f) != h) fail_msg("f16 %04x does not round-trip (got %04x)", h, dr_f32_to_f16(f));
    }
    /* Narrowing: reference values, rounding to nearest even, overflow and underflow. */
    struct { float in; uint16_t out; } cases[] = {
        {1.0f, 0x3c00}, {-2.0f, 0xc000}, {65504.0f, 0x7bff}, {0x1p-24f, 0x0001}, {0x1p-14f, 0x0400},
        {0x1.ff8p-15f, 0x03ff}, /* largest subnormal */
        {1.0f + 0x1p-11f, 0x3c00},        /* tie, rounds to even (down) */
        {1.0f + 3 * 0x1p-11f, 0x3c02},    /* tie, rounds to even (up) */
        {1.0f + 0x1p-11f + 0x1p-20f, 0x3c01}, /* just above the tie */
        {65519.0f, 0x7bff}, {65520.0f, 0x7c00}, {1e10f, 0x7c00}, {-INFINITY, 0xfc00}, {INFINITY, 0x7c00},
        {0x1p-25f, 0x0000},               /* tie between 0 and the smallest subnormal: even = 0 */
        {0x1.8p-25f, 0x0001}, {0x1.8p-24f, 0x0002}, /* 1.5 units ties up to 2 */
        {0x1p-26f, 0x0000}, {-0.0f, 0x8000}, {1e-30f, 0x0000},
        {0x1.ffcp-15f, 0x0400}, /* rounds up from the largest subnormal into the smallest normal */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = dr_f32_to_f16(cases[i].in);
        if (got != cases[i].out) fail_msg("f32 %a -> f16 %04x, expected %04x", (double)cases[i].in, got, cases[i].out);
    }
    assert_true(isnan(dr_f16_to_f32(dr_f32_to_f16(NAN))));
    /* Random floats: the result is the nearest half (checked against both neighbours). */
    dr_rng rng;
    dr_rng_seed(&rng, 11);
    for (int i = 0; i < 100000; i++) {
        float f = ldexpf(dr_rng_range(&rng, -1.0f, 1.0f), (int)dr_rng_below(&rng, 44) - 28);
        uint16_t h = dr_f32_to_f16(f);
        double err = fabs((double)dr_f16_to_f32(h) - f);
        uint16_t lo = (uint16_t)(h - 1), hi = (uint16_t)(h + 1);
        if ((h & 0x7fff) != 0) assert_true(err <= fabs(f16_reference(lo) - f));
        if ((h & 0x7fff) != 0x7bff) assert_true(err <= fabs(f16_reference(hi) - f));
    }
}

static void test_bf16_conversions(void **state) {
    (void)state;
    for (uint32_t b = 0; b < 65536; b++) {
        float f = dr_bf16_to_f32((uint16_t)b);
        assert_true(bits(f) == b << 16);
        if (!isnan(f)) assert_true(dr_f32_to_bf16(f) == b);
        else assert_true(isnan(dr_bf16_to_f32(dr_f32_to_bf16(f))));
    }
    struct { float in; uint16_t out; } cases[] = {
        {1.0f, 0x3f80}, {-1.0f, 0xbf80}, {1.0f + 0x1p-8f, 0x3f80}, {1.0f + 3 * 0x1p-8f, 0x3f82},
        {1.0f + 0x1p-8f + 0x1p-20f, 0x3f81}, {INFINITY, 0x7f80}, {3.4e38f, 0x7f80}, /* rounds past the max: inf */
        {0x1p-133f, 0x0001}, /* float subnormal kept as bf16 subnormal */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = dr_f32_to_bf16(cases[i].in);
        if (got != cases[i].out) fail_msg("f32 %a -> bf16 %04x, expected %04x", (double)cases[i].in, got, cases[i].out);
    }
    /* A signalling NaN pattern becomes a quiet NaN, never infinity. */
    float snan;
    uint32_t u = 0x7f800001u;
    memcpy(&snan, &u, 4);
    assert_true(isnan(dr_bf16_to_f32(dr_f32_to_bf16(snan))));
}

static void test_round_trip(void **state) {
    (void)state;
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir, "st_roundtrip");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    dr_rng rng;
    dr_rng_seed(&rng, 3);
    float *a = tu_randn(&rng, 6 * 7, 1.0f), *b = tu_randn(&rng, 5, 3.0f), *c = tu_randn(&rng, 3 * 2 * 2, 100.0f);
    b[0] = INFINITY, b[1] = -0.0f, b[2] = 0x1p-24f; /* special values through F16 */
    float scalar = 0.25f;
    dr_st_writer w;
    dr_st_writer_init(&w);
    dr_err err = {0};
    int64_t sa[2] = {6, 7}, sb[1] = {5}, sc[3] = {3, 2, 2}, sz[2] = {0, 4};
    assert_int_equal(dr_st_writer_add(&w, "b.half", DR_ST_F16, 1, sb, b, &err), 0);
    assert_int_equal(dr_st_writer_add(&w, "a.weight", DR_ST_F32, 2, sa, a, &err), 0);
    assert_int_equal(dr_st_writer_add(&w, "c.bf16", DR_ST_BF16, 3, sc, c, &err), 0);
    assert_int_equal(dr_st_writer_add(&w, "scalar", DR_ST_F32, 0, NULL, &scalar, &err), 0);
    assert_int_equal(dr_st_writer_add(&w, "empty", DR_ST_F32, 2, sz, NULL, &err), 0);
    assert_int_not_equal(dr_st_writer_add(&w, "a.weight", DR_ST_F32, 2, sa, a, &err), 0); /* duplicate */
    assert_int_not_equal(dr_st_writer_add(&w, "__metadata__", DR_ST_F32, 2, sa, a, &err), 0);
    assert_int_equal(dr_st_writer_meta(&w, "k", "v1", &err), 0);
    assert_int_equal(dr_st_writer_meta(&w, "k", "value \"quoted\" \xc3\xa9", &err), 0); /* replaces */
    assert_int_equal(dr_st_writer_meta(&w, "other", "", &err), 0);
    int rc = dr_st_writer_write(&w, path, &err);
    if (rc) fail_msg("%s", err.msg);
    dr_st_writer_free(&w);

    dr_st_file f;
    rc = dr_st_open(&f, path, &err);
    if (rc) fail_msg("%s", err.msg);
    assert_int_equal(f.count, 5);
    assert_int_equal(f.meta_count, 2);
    assert_string_equal(dr_st_meta(&f, "k"), "value \"quoted\" \xc3\xa9");
    assert_string_equal(dr_st_meta(&f, "other"), "");
    assert_null(dr_st_meta(&f, "missing"));
    /* Data section 8-byte aligned; each tensor aligned to its element size. */
    uint64_t header_len;
    memcpy(&header_len, f.map, 8);
    assert_int_equal((8 + header_len) % 8, 0);
    for (int i = 0; i < f.count; i++) assert_int_equal(f.tensors[i].offset % dr_st_dtype_size(f.tensors[i].dtype), 0);

    const dr_st_tensor *t = dr_st_find(&f, "a.weight");
    assert_non_null(t);
    assert_int_equal(t->dtype, DR_ST_F32);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 6);
    assert_int_equal(t->shape[1], 7);
    float out[64];
    assert_int_equal(dr_st_read_f32(&f, t, out, 42, &err), 0);
    assert_memory_equal(out, a, 42 * sizeof(float));
    assert_int_not_equal(dr_st_read_f32(&f, t, out, 41, &err), 0);

    t = dr_st_find(&f, "b.half");
    assert_int_equal(t->dtype, DR_ST_F16);
    assert_int_equal(dr_st_read_f32(&f, t, out, 5, &err), 0);
    for (int i = 0; i < 5; i++) assert_true(bits(out[i]) == bits(dr_f16_to_f32(dr_f32_to_f16(b[i]))));
    assert_true(isinf(out[0]) && signbit(out[1]) && out[2] == 0x1p-24f);

    t = dr_st_find(&f, "c.bf16");
    assert_int_equal(t->dtype, DR_ST_BF16);
    assert_int_equal(t->ndim, 3);
    assert_int_equal(dr_st_read_f32(&f, t, out, 12, &err), 0);
    for (int i = 0; i < 12; i++) assert_true(bits(out[i]) == bits(dr_bf16_to_f32(dr_f32_to_bf16(c[i]))));

    t = dr_st_find(&f, "scalar");
    assert_int_equal(t->ndim, 0);
    assert_int_equal(t->numel, 1);
    assert_int_equal(dr_st_read_f32(&f, t, out, 1, &err), 0);
    assert_true(out[0] == 0.25f);
    t = dr_st_find(&f, "empty");
    assert_int_equal(t->numel, 0);
    assert_int_equal(t->nbytes, 0);
    dr_st_close(&f);
    dr_st_close(&f); /* safe twice */
    free(a), free(b), free(c);
}

/* Optional cross-check with an independent reader: python3's standard library (struct + json). */
static void test_python_reads_same_bytes(void **state) {
    (void)state;
    if (tu_system("python3 -c 'import json, struct' >/dev/null 2>&1") != 0) {
        skip();
        return;
    }
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir, "st_python");
    snprintf(path, sizeof path, "%s/x.safetensors", dir);
    float v[6] = {1.5f, -2.25f, 1e-3f, 3e5f, 0.0f, -7.0f};
    int64_t shape[2] = {2, 3};
    dr_st_writer w;
    dr_st_writer_init(&w);
    dr_err err;
    assert_int_equal(dr_st_writer_add(&w, "x", DR_ST_F32, 2, shape, v, &err), 0);
    assert_int_equal(dr_st_writer_add(&w, "h", DR_ST_F16, 2, shape, v, &err), 0);
    assert_int_equal(dr_st_writer_meta(&w, "m", "n", &err), 0);
    assert_int_equal(dr_st_writer_write(&w, path, &err), 0);
    dr_st_writer_free(&w);
    /* Sum of x and of h decoded by python's struct module ('e' is IEEE half). */
    int rc = tu_system(
        "python3 - '%s' <<'EOF'\n"
        "import json, struct, sys\n"
        "b = open(sys.argv[1], 'rb').read()\n"
        "n = struct.unpack('<Q', b[:8])[0]\n"
        "h = json.loads(b[8:8 + n])\n"
        "d = b[8 + n:]\n"
        "assert h['__metadata__'] == {'m': 'n'}\n"
        "x = h['x']; s, e = x['data_offsets']\n"
        "assert x['dtype'] == 'F32' and x['shape'] == [2, 3]\n"
        "vx = struct.unpack('<6f', d[s:e])\n"
        "y = h['h']; s, e = y['data_offsets']\n"
        "assert y['dtype'] == 'F16'\n"
        "vh = struct.unpack('<6e', d[s:e])\n"
        "ref = [1.5, -2.25, 1e-3, 3e5, 0.0, -7.0]\n"
        "assert all(abs(a - r) <= 1e-7 * abs(r) for a, r in zip(vx, ref)), vx\n"
        "assert all(abs(a - r) <= 1e-3 * abs(r) for a, r in zip(vh[:3] + vh[4:], ref[:3] + ref[4:])), vh\n"
        "assert vh[3] == float('inf')\n"
        "EOF\n",
        path);
    assert_int_equal(rc, 0);
}

/* Write 8-byte length + header + data_len bytes of data as a file; returns its path. */
static void write_raw(const char *path, const char *header, size_t data_len) {
    size_t n = strlen(header);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    uint64_t len = n;
    fwrite(&len, 8, 1, fp);
    fwrite(header, 1, n, fp);
    for (size_t i = 0; i < data_len; i++) fputc((int)(i & 0xff), fp);
    fclose(fp);
}

static void expect_error(const char *dir, const char *tag, const char *header, size_t data_len, const char *needle) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, tag);
    write_raw(path, header, data_len);
    dr_st_file f;
    dr_err err = {0};
    int rc = dr_st_open(&f, path, &err);
    if (rc == 0) fail_msg("%s: accepted a corrupt file", tag);
    if (!strstr(err.msg, path)) fail_msg("%s: message does not name the file: %s", tag, err.msg);
    if (needle && !strstr(err.msg, needle)) fail_msg("%s: message does not mention '%s': %s", tag, needle, err.msg);
    dr_st_close(&f);
}

static void test_corrupt_files(void **state) {
    (void)state;
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir, "st_corrupt");
    const char *ok = "{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
    snprintf(path, sizeof path, "%s/ok.safetensors", dir);
    write_raw(path, ok, 16);
    dr_st_file f;
    dr_err err;
    assert_int_equal(dr_st_open(&f, path, &err), 0);
    dr_st_close(&f);

    expect_error(dir, "truncated_data", ok, 15, "'t'");
    expect_error(dir, "trailing_data", ok, 20, "after the last tensor");
    expect_error(dir, "bad_json", "{\"t\":{\"dtype\":\"F32\",", 0, "JSON");
    expect_error(dir, "not_object", "[1,2]", 0, "JSON object");
    expect_error(dir, "garbage_after", "{}  x", 0, "after the JSON");
    expect_error(dir, "entry_not_object", "{\"t\":3}", 0, "'t'");
    expect_error(dir, "missing_dtype", "{\"t\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype");
    expect_error(dir, "missing_shape", "{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "shape");
    expect_error(dir, "missing_offsets", "{\"t\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "data_offsets");
    expect_error(dir, "unknown_dtype", "{\"t\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'t'");
    expect_error(dir, "unsupported_dtype", "{\"t\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, "F8_E4M3");
    expect_error(dir, "size_mismatch", "{\"t\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", 16, "'t'");
    expect_error(dir, "negative_dim", "{\"t\":{\"dtype\":\"F32\",\"shape\":[-2,-2],\"data_offsets\":[0,16]}}", 16, "'t'");
    expect_error(dir, "fractional_dim", "{\"t\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,10]}}", 10, "'t'");
    expect_error(dir, "string_dim", "{\"t\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, "'t'");
    /* 2^32 * 2^32 elements overflows size_t. */
    expect_error(dir, "overflow_dims",
                 "{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0, "overflow");
    expect_error(dir, "overflow_bytes",
                 "{\"t\":{\"dtype\":\"F64\",\"shape\":[4294967296,536870912],\"data_offsets\":[0,0]}}", 0, "overflow");
    expect_error(dir, "huge_dim", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,0]}}", 0, "'t'");
    expect_error(dir, "too_many_dims",
                 "{\"t\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, "'t'");
    expect_error(dir, "offsets_out_of_bounds", "{\"t\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 16, "beyond");
    expect_error(dir, "offsets_reversed", "{\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, "'t'");
    expect_error(dir, "offsets_three", "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8, "'t'");
    expect_error(dir, "offsets_negative", "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, "'t'");
    expect_error(dir, "overlap",
                 "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                 12, "overlap");
    expect_error(dir, "hole",
                 "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
                 20, "'b'");
    expect_error(dir, "duplicate",
                 "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                 16, "duplicate tensor name 'a'");
    expect_error(dir, "meta_not_string", "{\"__metadata__\":{\"k\":1}}", 0, "'k'");
    expect_error(dir, "meta_not_object", "{\"__metadata__\":\"x\"}", 0, "__metadata__");
    expect_error(dir, "meta_duplicate", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "'k'");
    expect_error(dir, "meta_twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, "twice");

    /* Header length claims: beyond the file, absurd, and a file shorter than 8 bytes. */
    snprintf(path, sizeof path, "%s/len_beyond.safetensors", dir);
    FILE *fp = fopen(path, "wb");
    uint64_t len = 1000;
    fwrite(&len, 8, 1, fp);
    fputs("{}", fp);
    fclose(fp);
    assert_int_not_equal(dr_st_open(&f, path, &err), 0);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "truncated"));
    snprintf(path, sizeof path, "%s/len_absurd.safetensors", dir);
    fp = fopen(path, "wb");
    len = UINT64_MAX - 3;
    fwrite(&len, 8, 1, fp);
    fputs("{}", fp);
    fclose(fp);
    assert_int_not_equal(dr_st_open(&f, path, &err), 0);
    assert_non_null(strstr(err.msg, "limit"));
    snprintf(path, sizeof path, "%s/short.safetensors", dir);
    fp = fopen(path, "wb");
    fputs("abc", fp);
    fclose(fp);
    assert_int_not_equal(dr_st_open(&f, path, &err), 0);
    assert_non_null(strstr(err.msg, path));
    snprintf(path, sizeof path, "%s/does_not_exist.safetensors", dir);
    assert_int_equal(dr_st_open(&f, path, &err), DR_ENOTFOUND);
    assert_non_null(strstr(err.msg, path));
    assert_int_not_equal(dr_st_open(&f, dir, &err), 0); /* a folder */
}

/* Seeded mutations of a valid file: parse must fail cleanly or succeed with consistent
 * tensors, never crash (run under ASan in the sanitizer build). */
static void test_mutation_fuzz(void **state) {
    (void)state;
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir, "st_fuzz");
    snprintf(path, sizeof path, "%s/seed.safetensors", dir);
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = (float)i - 3.5f;
    int64_t s1[2] = {2, 3}, s2[1] = {6}, s3[3] = {1, 2, 3};
    dr_st_writer w;
    dr_st_writer_init(&w);
    dr_err err;
    assert_int_equal(dr_st_writer_add(&w, "w", DR_ST_F32, 2, s1, v, &err), 0);
    assert_int_equal(dr_st_writer_add(&w, "h", DR_ST_F16, 1, s2, v + 6, &err), 0);
    assert_int_equal(dr_st_writer_add(&w, "b", DR_ST_BF16, 3, s3, v + 12, &err), 0);
    assert_int_equal(dr_st_writer_meta(&w, "director.kind", "test", &err), 0);
    assert_int_equal(dr_st_writer_write(&w, path, &err), 0);
    dr_st_writer_free(&w);
    char *seed;
    size_t size;
    assert_int_equal(dr_read_file(path, 1 << 20, &seed, &size, &err), 0);
    unsigned char *buf = malloc(size + 64);
    dr_rng rng;
    dr_rng_seed(&rng, 2024);
    int accepted = 0;
    const char tokens[] = "{}[],:\"0123456789-eE. ";
    for (int iter = 0; iter < 4000; iter++) {
        memcpy(buf, seed, size);
        size_t n = size;
        int edits = 1 + (int)dr_rng_below(&rng, 4);
        for (int e = 0; e < edits; e++) {
            uint32_t pos = dr_rng_below(&rng, (uint32_t)n);
            switch (dr_rng_below(&rng, 5)) {
            case 0: buf[pos] = (unsigned char)dr_rng_u32(&rng); break;
            case 1: buf[pos] ^= (unsigned char)(1u << dr_rng_below(&rng, 8)); break;
            case 2: buf[pos] = (unsigned char)tokens[dr_rng_below(&rng, sizeof tokens - 1)]; break;
            case 3: n = pos + 1; break; /* truncate */
            case 4: if (pos < 8) buf[pos] = (unsigned char)dr_rng_u32(&rng); break; /* the length field */
            }
        }
        dr_st_file f;
        int rc = dr_st_parse(&f, buf, n, "mutant", &err);
        if (rc == 0) {
            accepted++;
            float out[64];
            for (int i = 0; i < f.count; i++) {
                const dr_st_tensor *t = &f.tensors[i];
                assert_true((const unsigned char *)t->data + t->nbytes <= buf + n);
                if (t->numel <= 64) dr_st_read_f32(&f, t, out, t->numel, &err);
            }
        } else {
            assert_non_null(strstr(err.msg, "mutant"));
        }
        dr_st_close(&f);
    }
    /* Every truncation of the valid file is rejected. */
    for (size_t n = 0; n < size; n++) {
        dr_st_file f;
        assert_int_not_equal(dr_st_parse(&f, seed, n, "truncated", &err), 0);
    }
    assert_true(accepted > 0); /* flips inside tensor data keep the file valid */
    free(buf);
    free(seed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_conversions),   cmocka_unit_test(test_bf16_conversions),
        cmocka_unit_test(test_round_trip),        cmocka_unit_test(test_python_reads_same_bytes),
        cmocka_unit_test(test_corrupt_files),     cmocka_unit_test(test_mutation_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
