#include "io/png.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>

#include "core/fsutil.h"

/* libpng reports errors by longjmp; its message is kept for our own error text. */
typedef struct png_ctx {
    char msg[256];
} png_ctx;

static void on_png_error(png_structp png, png_const_charp msg) {
    png_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* warnings (e.g. a bad CRC in an ancillary chunk) are not fatal */
}

int dr_png_write(const char *path, const dr_image *img, dr_err *err) {
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0)
        return dr_err_set(err, DR_EINVAL, "%s: no image to write", path);
    dr_atomic_file af;
    int rc = dr_atomic_open(&af, path, err);
    if (rc) return rc;
    png_ctx ctx = {{0}};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        dr_atomic_abort(&af);
        return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    }
    png_bytep *volatile rows = malloc((size_t)img->height * sizeof(png_bytep));
    if (!rows || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        dr_atomic_abort(&af);
        return dr_err_set(err, rows ? DR_EIO : DR_ENOMEM, "%s: cannot write PNG: %s", path,
                          rows ? ctx.msg : "out of memory");
    }
    for (int y = 0; y < img->height; y++) rows[y] = img->rgb + (size_t)y * (size_t)img->width * 3u;
    png_init_io(png, af.fp);
    /* Skeleton frames are flat colour on black: fast filters compress them well. */
    png_set_compression_level(png, 6);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return dr_atomic_commit(&af, err);
}

int dr_png_read(const char *path, dr_image *img, dr_err *err) {
    img->width = img->height = 0;
    img->rgb = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return dr_err_set(err, DR_EIO, "%s: cannot open", path);
    unsigned char sig[8];
    if (fread(sig, 1, 8, fp) != 8 || png_sig_cmp(sig, 0, 8)) {
        fclose(fp);
        return dr_err_set(err, DR_EFORMAT, "%s: not a PNG file", path);
    }
    png_ctx ctx = {{0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(fp);
        return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    }
    dr_image *volatile out = img;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        dr_image_free(out);
        fclose(fp);
        return dr_err_set(err, DR_EFORMAT, "%s: corrupt PNG: %s", path, ctx.msg);
    }
    png_init_io(png, fp);
    png_set_sig_bytes(png, 8);
    png_set_user_limits(png, DR_PNG_MAX_DIM, DR_PNG_MAX_DIM);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    /* Normalize every PNG flavour to 8-bit RGB. */
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 3u) png_error(png, "unexpected row layout");
    if (dr_image_alloc(out, (int)w, (int)h)) png_error(png, "image too large");
    rows = malloc((size_t)h * sizeof(png_bytep));
    if (!rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = out->rgb + (size_t)y * w * 3u;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    fclose(fp);
    return DR_OK;
}
