/* image.h - an 8-bit RGB frame in memory, the currency of every renderer.
 *
 * Pixels are row-major, 3 bytes per pixel (R, G, B), rows packed (stride = 3 * width).
 * Renderers draw into a dr_image; the io module writes them as PNG, MP4 or GIF. */
#ifndef DIRECTOR_RENDER_IMAGE_H
#define DIRECTOR_RENDER_IMAGE_H

#include <stdint.h>
#include <string.h>

typedef struct dr_image {
    int width, height;
    uint8_t *rgb; /* width * height * 3 bytes */
} dr_image;

/* Allocate a black image; returns 0 or DR_ENOMEM / DR_EINVAL (non-positive or huge size). */
int dr_image_alloc(dr_image *img, int width, int height);
void dr_image_free(dr_image *img);
void dr_image_fill(dr_image *img, uint8_t r, uint8_t g, uint8_t b);

static inline uint8_t *dr_image_pixel(dr_image *img, int x, int y) {
    return img->rgb + ((size_t)y * (size_t)img->width + (size_t)x) * 3u;
}

#endif
