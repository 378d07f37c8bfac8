/* Tests of src/io/gguf: writer/reader round trip of every value kind and of F32/F16
 * tensors, the exact bytes of a tiny file built by hand, hostile headers rejected with
 * the file and key/tensor named, and a seeded mutation fuzz loop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/rng.h"
#include "io/gguf.h"
#include "io/half.h"
#include "testutil.h"

/* ---- a little byte builder for hand-made files ---- */
typedef struct bytes {
    unsigned char buf[8192];
    size_t n;
} bytes;

static void put(bytes *b, const void *p, size_t n) {
    assert_true(b->n + n <= sizeof b->buf);
    memcpy(b->buf + b->n, p, n);
    b->n += n;
}
static void put_u8(bytes *b, uint8_t v) { put(b, &v, 1); }
static void put_u32(bytes *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(bytes *b, uint64_t v) { put(b, &v, 8); }
static void put_str(bytes *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void put_header(bytes *b, uint64_t n_tensors, uint64_t n_kv) {
    b->n = 0;
    put(b, "GGUF", 4);
    put_u32(b, 3);
    put_u64(b, n_tensors);
    put_u64(b, n_kv);
}
static void pad_to(bytes *b, size_t alignment) {
    while (b->n % alignment) put_u8(b, 0);
}

static void test_round_trip(void **state) {
    (void)state;
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir, "gguf_roundtrip");
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    dr_rng rng;
    dr_rng_seed(&rng, 8);
    float *a = tu_randn(&rng, 5 * 3, 1.0f), *b = tu_randn(&rng, 7, 1.0f), *c = tu_randn(&rng, 2 * 3 * 4, 1.0f);
    const char *tokens[] = {"a", "", "\xc4\xa0the", "<|begin_of_text|>"};
    int32_t types[] = {1, 2, 3, -5};
    float scores[] = {0.5f, -1.25f};
    dr_gguf_writer w;
    dr_gguf_writer_init(&w);
    dr_err err = {0};
    assert_int_equal(dr_gguf_add_string(&w, "general.architecture", "llama", &err), 0);
    assert_int_equal(dr_gguf_add_u32(&w, "llama.block_count", 2, &err), 0);
    assert_int_equal(dr_gguf_add_i32(&w, "x.i32", -7, &err), 0);
    assert_int_equal(dr_gguf_add_u64(&w, "x.u64", 1ull << 40, &err), 0);
    assert_int_equal(dr_gguf_add_f32(&w, "llama.attention.layer_norm_rms_epsilon", 1e-5f, &err), 0);
    assert_int_equal(dr_gguf_add_bool(&w, "tokenizer.ggml.add_bos_token", true, &err), 0);
    assert_int_equal(dr_gguf_add_string_array(&w, "tokenizer.ggml.tokens", tokens, 4, &err), 0);
    assert_int_equal(dr_gguf_add_i32_array(&w, "tokenizer.ggml.token_type", types, 4, &err), 0);
    assert_int_equal(dr_gguf_add_f32_array(&w, "tokenizer.ggml.scores", scores, 2, &err), 0);
    assert_int_equal(dr_gguf_add_string_array(&w, "x.empty", NULL, 0, &err), 0);
    assert_int_not_equal(dr_gguf_add_u32(&w, "llama.block_count", 3, &err), 0); /* duplicate */
    assert_int_not_equal(dr_gguf_add_u32(&w, "general.alignment", 48, &err), 0); /* not a power of two */
    assert_int_not_equal(dr_gguf_add_u32(&w, "", 1, &err), 0);
    int64_t sa[2] = {5, 3}, sb[1] = {7}, sc[3] = {2, 3, 4};
    assert_int_equal(dr_gguf_add_tensor(&w, "token_embd.weight", DR_GGML_F32, 2, sa, a, &err), 0);
    assert_int_equal(dr_gguf_add_tensor(&w, "output_norm.weight", DR_GGML_F16, 1, sb, b, &err), 0);
    assert_int_equal(dr_gguf_add_tensor(&w, "blk.0.attn_q.weight", DR_GGML_F32, 3, sc, c, &err), 0);
    assert_int_not_equal(dr_gguf_add_tensor(&w, "output_norm.weight", DR_GGML_F32, 1, sb, b, &err), 0);
    char long_name[80];
    memset(long_name, 'n', 64);
    long_name[64] = 0;
    assert_int_not_equal(dr_gguf_add_tensor(&w, long_name, DR_GGML_F32, 1, sb, b, &err), 0);
    assert_int_not_equal(dr_gguf_add_tensor(&w, "bf", DR_GGML_BF16, 1, sb, b, &err), 0);
    int rc = dr_gguf_write(&w, path, &err);
    if (rc) fail_msg("%s", err.msg);
    dr_gguf_writer_free(&w);

    dr_gguf_file f;
    rc = dr_gguf_open(&f, path, &err);
    if (rc) fail_msg("%s", err.msg);
    assert_int_equal(f.version, 3);
    assert_int_equal(f.alignment, 32);
    assert_int_equal(f.kv_count, 10);
    assert_int_equal(f.tensor_count, 3);
    assert_int_equal(f.data_offset % 32, 0);
    const dr_gguf_kv *kv = dr_gguf_find_kv(&f, "general.architecture");
    assert_int_equal(kv->type, DR_GGUF_STRING);
    assert_true(dr_gguf_str_eq(kv->str, "llama"));
    assert_false(dr_gguf_str_eq(kv->str, "llam"));
    kv = dr_gguf_find_kv(&f, "llama.block_count");
    assert_int_equal(kv->type, DR_GGUF_U32);
    assert_int_equal(kv->value.u, 2);
    assert_int_equal(dr_gguf_find_kv(&f, "x.i32")->value.i, -7);
    assert_true(dr_gguf_find_kv(&f, "x.u64")->value.u == 1ull << 40);
    assert_true(dr_gguf_find_kv(&f, "llama.attention.layer_norm_rms_epsilon")->value.f == (double)1e-5f);
    assert_int_equal(dr_gguf_find_kv(&f, "tokenizer.ggml.add_bos_token")->value.u, 1);
    kv = dr_gguf_find_kv(&f, "tokenizer.ggml.tokens");
    assert_int_equal(kv->type, DR_GGUF_ARRAY);
    assert_int_equal(kv->elem_type, DR_GGUF_STRING);
    assert_int_equal(kv->count, 4);
    for (int i = 0; i < 4; i++) assert_true(dr_gguf_str_eq(kv->strings[i], tokens[i]));
    kv = dr_gguf_find_kv(&f, "tokenizer.ggml.token_type");
    assert_int_equal(kv->elem_type, DR_GGUF_I32);
    for (int i = 0; i < 4; i++) assert_int_equal(dr_gguf_array_int(kv, (uint64_t)i), types[i]);
    kv = dr_gguf_find_kv(&f, "tokenizer.ggml.scores");
    for (int i = 0; i < 2; i++) assert_true(dr_gguf_array_float(kv, (uint64_t)i) == scores[i]);
    assert_int_equal(dr_gguf_find_kv(&f, "x.empty")->count, 0);
    assert_null(dr_gguf_find_kv(&f, "nope"));

    const dr_gguf_tensor *t = dr_gguf_find_tensor(&f, "token_embd.weight");
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->ne[0], 3); /* reversed on disk */
    assert_int_equal(t->ne[1], 5);
    assert_int_equal(t->shape[0], 5);
    assert_int_equal(t->offset % 32, 0);
    float out[32];
    assert_int_equal(dr_gguf_read_f32(&f, t, out, 15, &err), 0);
    assert_memory_equal(out, a, 15 * sizeof(float));
    t = dr_gguf_find_tensor(&f, "output_norm.weight");
    assert_int_equal(t->type, DR_GGML_F16);
    assert_int_equal(t->offset % 32, 0);
    assert_int_equal(dr_gguf_read_f32(&f, t, out, 7, &err), 0);
    for (int i = 0; i < 7; i++) assert_true(out[i] == dr_f16_to_f32(dr_f32_to_f16(b[i])));
    t = dr_gguf_find_tensor(&f, "blk.0.attn_q.weight");
    assert_int_equal(t->ne[0], 4);
    assert_int_equal(t->ne[2], 2);
    assert_int_equal(dr_gguf_read_f32(&f, t, out, 24, &err), 0);
    assert_memory_equal(out, c, 24 * sizeof(float));
    assert_int_not_equal(dr_gguf_read_f32(&f, t, out, 23, &err), 0);
    /* File size: data section + every tensor padded to the alignment. */
    assert_int_equal(f.map_size, f.data_offset + 64 + 32 + 96);
    dr_gguf_close(&f);
    dr_gguf_close(&f);
    free(a), free(b), free(c);
}

/* The writer's bytes equal a file assembled by hand from the specification, with a custom alignment. */
static void test_exact_bytes(void **state) {
    (void)state;
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir, "gguf_bytes");
    snprintf(path, sizeof path, "%s/t.gguf", dir);
    float v[6] = {1, 2, 3, 4, 5, 6};
    dr_gguf_writer w;
    dr_gguf_writer_init(&w);
    dr_err err;
    assert_int_equal(dr_gguf_add_u32(&w, "general.alignment", 64, &err), 0);
    assert_int_equal(dr_gguf_add_string(&w, "general.name", "t", &err), 0);
    int64_t shape[2] = {2, 3};
    assert_int_equal(dr_gguf_add_tensor(&w, "w", DR_GGML_F32, 2, shape, v, &err), 0);
    assert_int_equal(dr_gguf_add_tensor(&w, "h", DR_GGML_F16, 1, shape, v, &err), 0);
    assert_int_equal(dr_gguf_write(&w, path, &err), 0);
    dr_gguf_writer_free(&w);

    static bytes b;
    put_header(&b, 2, 2);
    put_str(&b, "general.alignment");
    put_u32(&b, 4);
    put_u32(&b, 64);
    put_str(&b, "general.name");
    put_u32(&b, 8);
    put_str(&b, "t");
    put_str(&b, "w");
    put_u32(&b, 2);
    put_u64(&b, 3);
    put_u64(&b, 2);
    put_u32(&b, 0);
    put_u64(&b, 0);
    put_str(&b, "h");
    put_u32(&b, 1);
    put_u64(&b, 2);
    put_u32(&b, 1);
    put_u64(&b, 64); /* 24 bytes of w padded to 64 */
    pad_to(&b, 64);
    put(&b, v, sizeof v);
    pad_to(&b, 64);
    uint16_t h[2] = {0x3c00, 0x4000}; /* 1.0, 2.0 */
    put(&b, h, sizeof h);
    pad_to(&b, 64);

    char *data;
    size_t size;
    assert_int_equal(dr_read_file(path, 1 << 20, &data, &size, &err), 0);
    assert_int_equal(size, b.n);
    assert_memory_equal(data, b.buf, b.n);
    free(data);
}

static void expect_bad(const char *dir, const char *tag, const bytes *b, const char *needle) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.gguf", dir, tag);
    dr_err err = {0};
    assert_int_equal(dr_write_file_atomic(path, b->buf, b->n, &err), 0);
    dr_gguf_file f;
    int rc = dr_gguf_open(&f, path, &err);
    if (rc == 0) fail_msg("%s: accepted a corrupt file", tag);
    if (!strstr(err.msg, path)) fail_msg("%s: message does not name the file: %s", tag, err.msg);
    if (needle && !strstr(err.msg, needle)) fail_msg("%s: message does not mention '%s': %s", tag, needle, err.msg);
    dr_gguf_close(&f);
}

/* One tensor "t" F32 [4] at `offset` with `data_bytes` bytes of data, after one u32 key. */
static void one_tensor(bytes *b, uint32_t ndim, uint64_t ne0, uint32_t type, uint64_t offset, size_t data_bytes) {
    put_header(b, 1, 1);
    put_str(b, "k");
    put_u32(b, 4);
    put_u32(b, 1);
    put_str(b, "t");
    put_u32(b, ndim);
    for (uint32_t d = 0; d < ndim && d < 8; d++) put_u64(b, d ? 1 : ne0);
    put_u32(b, type);
    put_u64(b, offset);
    pad_to(b, 32);
    for (size_t i = 0; i < data_bytes; i++) put_u8(b, (uint8_t)i);
}

static void test_hostile_files(void **state) {
    (void)state;
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir, "gguf_hostile");
    static bytes b;
    dr_gguf_file f;
    dr_err err;

    /* A valid baseline, and every scalar value type readable. */
    put_header(&b, 0, 7);
    put_str(&b, "u8"), put_u32(&b, 0), put_u8(&b, 200);
    put_str(&b, "i8"), put_u32(&b, 1), put_u8(&b, 0xfe);
    put_str(&b, "u16"), put_u32(&b, 2), put_u8(&b, 0x34), put_u8(&b, 0x12);
    put_str(&b, "i16"), put_u32(&b, 3), put_u8(&b, 0xff), put_u8(&b, 0xff);
    put_str(&b, "i64"), put_u32(&b, 11), put_u64(&b, (uint64_t)-5);
    double d = -2.5;
    put_str(&b, "f64"), put_u32(&b, 12), put(&b, &d, 8);
    put_str(&b, "u16arr"), put_u32(&b, 9), put_u32(&b, 2), put_u64(&b, 2), put_u32(&b, 0x00020001);
    assert_int_equal(dr_gguf_parse(&f, b.buf, b.n, "scalars", &err), 0);
    assert_int_equal(dr_gguf_find_kv(&f, "u8")->value.u, 200);
    assert_int_equal(dr_gguf_find_kv(&f, "i8")->value.i, -2);
    assert_int_equal(dr_gguf_find_kv(&f, "u16")->value.u, 0x1234);
    assert_int_equal(dr_gguf_find_kv(&f, "i16")->value.i, -1);
    assert_int_equal(dr_gguf_find_kv(&f, "i64")->value.i, -5);
    assert_true(dr_gguf_find_kv(&f, "f64")->value.f == -2.5);
    assert_int_equal(dr_gguf_array_int(dr_gguf_find_kv(&f, "u16arr"), 1), 2);
    dr_gguf_close(&f);
    one_tensor(&b, 1, 4, 0, 0, 16);
    assert_int_equal(dr_gguf_parse(&f, b.buf, b.n, "valid", &err), 0);
    dr_gguf_close(&f);

    put_header(&b, 0, 0);
    memcpy(b.buf, "GGUX", 4);
    expect_bad(dir, "magic", &b, "magic");
    put_header(&b, 0, 0);
    b.buf[4] = 7;
    expect_bad(dir, "version", &b, "version");
    b.n = 10;
    expect_bad(dir, "short", &b, "truncated");
    put_header(&b, 0, 1ull << 60);
    expect_bad(dir, "huge_kv_count", &b, "key-values");
    put_header(&b, UINT64_MAX, 0);
    expect_bad(dir, "huge_tensor_count", &b, "tensors");
    put_header(&b, 0, 1);
    put_u64(&b, 1ull << 62), put(&b, "abcdefghijklmnop", 16);
    expect_bad(dir, "key_length", &b, "past the end");
    put_header(&b, 0, 1);
    put_str(&b, "k"), put_u32(&b, 8), put_u64(&b, 1000), put(&b, "abcdefghijklmnop", 16);
    expect_bad(dir, "string_length", &b, "'k'");
    put_header(&b, 0, 1);
    put_str(&b, "k"), put_u32(&b, 13), put_u64(&b, 0);
    expect_bad(dir, "bad_value_type", &b, "'k'");
    put_header(&b, 0, 1);
    put_str(&b, "k"), put_u32(&b, 7), put_u8(&b, 2), put_u64(&b, 0);
    expect_bad(dir, "bad_bool", &b, "'k'");
    put_header(&b, 0, 1);
    put_str(&b, "k"), put_u32(&b, 9), put_u32(&b, 8), put_u64(&b, 1ull << 40), put_u64(&b, 0);
    expect_bad(dir, "string_array_count", &b, "'k'");
    put_header(&b, 0, 1);
    put_str(&b, "k"), put_u32(&b, 9), put_u32(&b, 8), put_u64(&b, 2), put_str(&b, "ok"), put_u64(&b, 99), put_u32(&b, 0);
    expect_bad(dir, "string_array_element", &b, "'k'");
    put_header(&b, 0, 1);
    put_str(&b, "k"), put_u32(&b, 9), put_u32(&b, 5), put_u64(&b, 1ull << 61), put_u64(&b, 0);
    expect_bad(dir, "numeric_array_count", &b, "'k'");
    put_header(&b, 0, 1);
    put_str(&b, "k"), put_u32(&b, 9), put_u32(&b, 9), put_u64(&b, 1), put_u64(&b, 0);
    expect_bad(dir, "nested_array", &b, "nested");
    put_header(&b, 0, 1);
    put_str(&b, "k"), put_u32(&b, 9), put_u32(&b, 77), put_u64(&b, 1), put_u64(&b, 0);
    expect_bad(dir, "bad_element_type", &b, "'k'");
    put_header(&b, 0, 2);
    put_str(&b, "k"), put_u32(&b, 4), put_u32(&b, 1);
    put_str(&b, "k"), put_u32(&b, 4), put_u32(&b, 2);
    expect_bad(dir, "duplicate_key", &b, "duplicate key 'k'");
    put_header(&b, 0, 1);
    put_u64(&b, 3), put(&b, "a\0b", 3), put_u32(&b, 4), put_u32(&b, 1);
    expect_bad(dir, "nul_in_key", &b, "NUL");
    put_header(&b, 0, 1);
    put_str(&b, "general.alignment"), put_u32(&b, 4), put_u32(&b, 24), put_u64(&b, 0);
    expect_bad(dir, "alignment", &b, "alignment");
    put_header(&b, 0, 1);
    put_str(&b, "general.alignment"), put_u32(&b, 8), put_str(&b, "32"), put_u64(&b, 0);
    expect_bad(dir, "alignment_type", &b, "alignment");

    one_tensor(&b, 1, 4, 0, 0, 15);
    expect_bad(dir, "data_truncated", &b, "'t'");
    one_tensor(&b, 1, 4, 0, 64, 16);
    expect_bad(dir, "offset_beyond", &b, "'t'");
    one_tensor(&b, 1, 4, 0, 4, 32);
    expect_bad(dir, "offset_misaligned", &b, "alignment");
    one_tensor(&b, 1, 4, 0, UINT64_MAX - 31, 16);
    expect_bad(dir, "offset_overflow", &b, "'t'");
    one_tensor(&b, 0, 4, 0, 0, 16);
    expect_bad(dir, "zero_dims", &b, "'t'");
    one_tensor(&b, 5, 4, 0, 0, 16);
    expect_bad(dir, "five_dims", &b, "'t'");
    one_tensor(&b, 1, 4, 2, 0, 16);
    expect_bad(dir, "quantized_type", &b, "'t'");
    one_tensor(&b, 1, 4, 999, 0, 16);
    expect_bad(dir, "unknown_type", &b, "'t'");
    one_tensor(&b, 1, 1ull << 63, 0, 0, 16);
    expect_bad(dir, "negative_dim", &b, "'t'");
    one_tensor(&b, 1, 1ull << 62, 0, 0, 16);
    expect_bad(dir, "bytes_overflow", &b, "'t'");
    one_tensor(&b, 1, 4, 0, 0, 16);
    b.n -= 40; /* cut inside the tensor info */
    expect_bad(dir, "info_truncated", &b, "truncated");

    /* Two tensors: overlapping data, duplicate names, long names. */
    put_header(&b, 2, 0);
    put_str(&b, "a"), put_u32(&b, 1), put_u64(&b, 16), put_u32(&b, 0), put_u64(&b, 0);
    put_str(&b, "b"), put_u32(&b, 1), put_u64(&b, 4), put_u32(&b, 0), put_u64(&b, 32);
    pad_to(&b, 32);
    for (int i = 0; i < 64; i++) put_u8(&b, 0);
    expect_bad(dir, "overlap", &b, "overlaps");
    put_header(&b, 2, 0);
    put_str(&b, "a"), put_u32(&b, 1), put_u64(&b, 4), put_u32(&b, 0), put_u64(&b, 0);
    put_str(&b, "a"), put_u32(&b, 1), put_u64(&b, 4), put_u32(&b, 0), put_u64(&b, 32);
    pad_to(&b, 32);
    for (int i = 0; i < 64; i++) put_u8(&b, 0);
    expect_bad(dir, "duplicate_tensor", &b, "duplicate tensor name 'a'");
    put_header(&b, 1, 0);
    put_str(&b, "0123456789012345678901234567890123456789012345678901234567890123"); /* 64 bytes */
    put_u32(&b, 1), put_u64(&b, 4), put_u32(&b, 0), put_u64(&b, 0);
    pad_to(&b, 32);
    for (int i = 0; i < 16; i++) put_u8(&b, 0);
    expect_bad(dir, "long_name", &b, "tensor 0");

    /* Found by fuzz_gguf: a zero-size tensor and no padding after the infos put the data section past the end. */
    put_header(&b, 1, 0);
    put_str(&b, "z"), put_u32(&b, 1), put_u64(&b, 0), put_u32(&b, 0), put_u64(&b, 0);
    expect_bad(dir, "data_section_past_end", &b, "data section");

    snprintf(path, sizeof path, "%s/none.gguf", dir);
    assert_int_equal(dr_gguf_open(&f, path, &err), DR_ENOTFOUND);
    assert_non_null(strstr(err.msg, path));
}

static void test_mutation_fuzz(void **state) {
    (void)state;
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir, "gguf_fuzz");
    snprintf(path, sizeof path, "%s/seed.gguf", dir);
    float v[16];
    for (int i = 0; i < 16; i++) v[i] = (float)i * 0.5f;
    const char *strs[] = {"x", "yz", ""};
    int32_t ints[] = {1, -2, 3};
    dr_gguf_writer w;
    dr_gguf_writer_init(&w);
    dr_err err;
    int64_t s1[2] = {2, 4}, s2[1] = {8};
    assert_int_equal(dr_gguf_add_u32(&w, "general.alignment", 16, &err), 0);
    assert_int_equal(dr_gguf_add_string(&w, "a", "bc", &err), 0);
    assert_int_equal(dr_gguf_add_string_array(&w, "s", strs, 3, &err), 0);
    assert_int_equal(dr_gguf_add_i32_array(&w, "i", ints, 3, &err), 0);
    assert_int_equal(dr_gguf_add_bool(&w, "b", false, &err), 0);
    assert_int_equal(dr_gguf_add_tensor(&w, "w", DR_GGML_F32, 2, s1, v, &err), 0);
    assert_int_equal(dr_gguf_add_tensor(&w, "h", DR_GGML_F16, 1, s2, v + 8, &err), 0);
    assert_int_equal(dr_gguf_write(&w, path, &err), 0);
    dr_gguf_writer_free(&w);
    char *seed;
    size_t size;
    assert_int_equal(dr_read_file(path, 1 << 20, &seed, &size, &err), 0);
    unsigned char *buf = malloc(size);
    dr_rng rng;
    dr_rng_seed(&rng, 77);
    int accepted = 0;
    for (int iter = 0; iter < 5000; iter++) {
        memcpy(buf, seed, size);
        size_t n = size;
        int edits = 1 + (int)dr_rng_below(&rng, 3);
        for (int e = 0; e < edits; e++) {
            uint32_t pos = dr_rng_below(&rng, (uint32_t)n);
            switch (dr_rng_below(&rng, 4)) {
            case 0: buf[pos] = (unsigned char)dr_rng_u32(&rng); break;
            case 1: buf[pos] ^= (unsigned char)(1u << dr_rng_below(&rng, 8)); break;
            case 2: buf[pos] = (unsigned char)(dr_rng_below(&rng, 2) ? 0xff : 0); break;
            case 3: n = pos + 1; break;
            }
        }
        dr_gguf_file f;
        if (dr_gguf_parse(&f, buf, n, "mutant", &err) == 0) {
            accepted++;
            float out[16];
            for (int64_t i = 0; i < f.tensor_count; i++) {
                const dr_gguf_tensor *t = &f.tensors[i];
                assert_true((const unsigned char *)t->data + t->nbytes <= buf + n);
                if (t->numel <= 16) dr_gguf_read_f32(&f, t, out, t->numel, &err);
            }
            for (int64_t i = 0; i < f.kv_count; i++) {
                const dr_gguf_kv *kv = &f.kvs[i];
                if (kv->type == DR_GGUF_ARRAY && kv->elem_type != DR_GGUF_STRING && kv->count)
                    (void)dr_gguf_array_int(kv, kv->count - 1);
            }
        } else {
            assert_non_null(strstr(err.msg, "mutant"));
        }
        dr_gguf_close(&f);
    }
    for (size_t n = 0; n < size; n++) {
        dr_gguf_file f;
        int rc = dr_gguf_parse(&f, seed, n, "truncated", &err);
        if (rc == 0) fail_msg("truncation to %zu of %zu bytes accepted", n, size);
    }
    assert_true(accepted > 0);
    free(buf);
    free(seed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_hostile_files),
        cmocka_unit_test(test_mutation_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
