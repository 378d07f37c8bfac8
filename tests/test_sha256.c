/* Tests of src/core/sha256: the FIPS 180-2 example vectors, streaming in uneven pieces
 * equals one shot, file hashing against sha256sum when present. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "testutil.h"

static void hex_of(const void *data, size_t n, char hex[DR_SHA256_HEX_SIZE]) {
    unsigned char d[DR_SHA256_SIZE];
    dr_sha256(data, n, d);
    dr_sha256_hex(d, hex);
}

static void test_fips_vectors(void **state) {
    (void)state;
    char hex[DR_SHA256_HEX_SIZE];
    hex_of("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hex_of(m448, strlen(m448), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    hex_of("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* One million 'a', fed in pieces of 1000. */
    char a[1000];
    memset(a, 'a', sizeof a);
    dr_sha256_ctx ctx;
    dr_sha256_init(&ctx);
    for (int i = 0; i < 1000; i++) dr_sha256_update(&ctx, a, sizeof a);
    unsigned char d[DR_SHA256_SIZE];
    dr_sha256_final(&ctx, d);
    dr_sha256_hex(d, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_streaming_equals_one_shot(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 5);
    unsigned char buf[1000];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)dr_rng_u32(&rng);
    /* Every length around the padding boundaries (55, 56, 63, 64, ...), uneven pieces. */
    for (size_t n = 0; n < 300; n++) {
        unsigned char one[DR_SHA256_SIZE], streamed[DR_SHA256_SIZE];
        dr_sha256(buf, n, one);
        dr_sha256_ctx ctx;
        dr_sha256_init(&ctx);
        for (size_t at = 0; at < n;) {
            size_t piece = 1 + dr_rng_below(&rng, 70);
            if (piece > n - at) piece = n - at;
            dr_sha256_update(&ctx, buf + at, piece);
            at += piece;
        }
        dr_sha256_final(&ctx, streamed);
        assert_memory_equal(one, streamed, DR_SHA256_SIZE);
    }
}

static void test_file(void **state) {
    (void)state;
    char dir[512], path[1024];
    tu_tmpdir(dir, sizeof dir, "sha256");
    snprintf(path, sizeof path, "%s/data.bin", dir);
    /* 200 KB: several read blocks. */
    size_t n = 200000;
    unsigned char *buf = malloc(n);
    for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)(i * 7 + (i >> 9));
    dr_err err;
    assert_int_equal(dr_write_file_atomic(path, buf, n, &err), 0);
    char hex[DR_SHA256_HEX_SIZE], ref[DR_SHA256_HEX_SIZE];
    assert_int_equal(dr_sha256_file(path, hex, &err), 0);
    hex_of(buf, n, ref);
    assert_string_equal(hex, ref);
    /* Independent check with coreutils when available. */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "sha256sum '%s' 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    char line[256] = "";
    if (p && fgets(line, sizeof line, p) && strlen(line) >= 64) {
        line[64] = '\0';
        assert_string_equal(line, hex);
    }
    if (p) pclose(p);
    snprintf(path, sizeof path, "%s/missing.bin", dir);
    assert_int_equal(dr_sha256_file(path, hex, &err), DR_ENOTFOUND);
    assert_non_null(strstr(err.msg, path));
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_vectors),
        cmocka_unit_test(test_streaming_equals_one_shot),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
