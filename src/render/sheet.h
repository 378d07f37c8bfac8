/* sheet.h - contact sheets: a grid of evenly spaced skeleton frames in one image.
 *
 * For a quick look at a whole motion (and for docs and reports): n frames from first to
 * last, each rendered by dr_render_pose into a cell, separated by thin grey lines, with
 * the frame number in the cell's corner when asked. */
#ifndef DIRECTOR_RENDER_SHEET_H
#define DIRECTOR_RENDER_SHEET_H

#include <stdbool.h>

#include "core/error.h"
#include "pose/skeleton.h"
#include "render/image.h"

#define DR_SHEET_GAP 2

/* Render min(n, num_frames) frames of `seq` into cells of cell_w x cell_h (the pose canvas
 * is scaled to the cell). The grid has about as many rows as columns in pixels. `out` is
 * allocated (free with dr_image_free). */
int dr_pose_contact_sheet(const dr_pose_seq *seq, int n, int cell_w, int cell_h, bool numbers, dr_image *out,
                          dr_err *err);
/* Frame index of cell i of n over num_frames frames: round(i * (num_frames - 1) / (n - 1)). */
int dr_sheet_frame_index(int i, int n, int num_frames);
/* Draw a non-negative integer with a 3x5 pixel font magnified `scale` times, top-left at (x, y). */
void dr_draw_number(dr_image *img, int x, int y, long value, int scale, const uint8_t rgb[3]);

#endif
