#include "render/image.h"

#include <stdlib.h>

#include "core/error.h"

int dr_image_alloc(dr_image *img, int width, int height) {
    img->width = img->height = 0;
    img->rgb = NULL;
    /* 16384 x 16384 is far beyond any video frame; refusing it keeps size_t math safe. */
    if (width <= 0 || height <= 0 || width > 16384 || height > 16384) return DR_EINVAL;
    img->rgb = calloc((size_t)width * (size_t)height, 3);
    if (!img->rgb) return DR_ENOMEM;
    img->width = width;
    img->height = height;
    return DR_OK;
}

void dr_image_free(dr_image *img) {
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->width = img->height = 0;
}

void dr_image_fill(dr_image *img, uint8_t r, uint8_t g, uint8_t b) {
    size_t n = (size_t)img->width * (size_t)img->height;
    for (size_t i = 0; i < n; i++) {
        img->rgb[3 * i] = r;
        img->rgb[3 * i + 1] = g;
        img->rgb[3 * i + 2] = b;
    }
}
