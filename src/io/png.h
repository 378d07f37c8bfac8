/* png.h - PNG files of dr_image frames (libpng), written atomically.
 *
 * Skeleton frames, contact sheets and previews are written as 8-bit RGB PNGs; a file is
 * either complete or absent (temporary file + rename). The reader accepts any PNG libpng
 * decodes (palette, grey, alpha, 16-bit) and converts it to 8-bit RGB, so tests and
 * tools can read frames back. */
#ifndef DIRECTOR_IO_PNG_H
#define DIRECTOR_IO_PNG_H

#include "core/error.h"
#include "render/image.h"

/* Largest width or height accepted on read (dr_image_alloc's own limit). */
#define DR_PNG_MAX_DIM 16384

int dr_png_write(const char *path, const dr_image *img, dr_err *err);
/* Read into a newly allocated image (free with dr_image_free). */
int dr_png_read(const char *path, dr_image *img, dr_err *err);

#endif
