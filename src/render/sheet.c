#include "render/sheet.h"

#include <math.h>
#include <stdio.h>

#include "render/pose_draw.h"

/* 3x5 digits, one row per byte, bit 2 = left column. */
static const uint8_t digit_font[10][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
};

void dr_draw_number(dr_image *img, int x, int y, long value, int scale, const uint8_t rgb[3]) {
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%ld", value < 0 ? 0 : value);
    for (int i = 0; i < n; i++) {
        const uint8_t *glyph = digit_font[buf[i] - '0'];
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 3; c++) {
                if (!(glyph[r] >> (2 - c) & 1)) continue;
                for (int dy = 0; dy < scale; dy++)
                    for (int dx = 0; dx < scale; dx++) {
                        int px = x + (4 * i + c) * scale + dx, py = y + r * scale + dy;
                        if (px < 0 || py < 0 || px >= img->width || py >= img->height) continue;
                        uint8_t *p = dr_image_pixel(img, px, py);
                        p[0] = rgb[0], p[1] = rgb[1], p[2] = rgb[2];
                    }
            }
    }
}

int dr_sheet_frame_index(int i, int n, int num_frames) {
    if (n <= 1 || num_frames <= 1) return 0;
    return (int)lround((double)i * (double)(num_frames - 1) / (double)(n - 1));
}

int dr_pose_contact_sheet(const dr_pose_seq *seq, int n, int cell_w, int cell_h, bool numbers, dr_image *out,
                          dr_err *err) {
    out->rgb = NULL;
    out->width = out->height = 0;
    if (seq->num_frames <= 0) return dr_err_set(err, DR_EINVAL, "contact sheet: the sequence has no frames");
    if (n < 1 || n > 1000 || cell_w < 8 || cell_h < 8 || cell_w > 4096 || cell_h > 4096)
        return dr_err_set(err, DR_EINVAL, "contact sheet: %d cells of %dx%d (expected 1..1000 cells of 8..4096 pixels)",
                          n, cell_w, cell_h);
    if (n > seq->num_frames) n = seq->num_frames;
    int cols = (int)ceil(sqrt((double)n * cell_h / cell_w));
    if (cols < 1) cols = 1;
    if (cols > n) cols = n;
    int rows = (n + cols - 1) / cols;
    int w = cols * cell_w + (cols - 1) * DR_SHEET_GAP, h = rows * cell_h + (rows - 1) * DR_SHEET_GAP;
    if (w > 16384 || h > 16384) return dr_err_set(err, DR_ERANGE, "contact sheet: %dx%d pixels is too large", w, h);
    dr_image cell;
    int rc = dr_image_alloc(out, w, h);
    if (rc || (rc = dr_image_alloc(&cell, cell_w, cell_h))) {
        dr_image_free(out);
        return dr_err_set(err, DR_ENOMEM, "contact sheet: out of memory");
    }
    dr_image_fill(out, 64, 64, 64); /* the grey shows between the cells */
    static const uint8_t label[3] = {200, 200, 200};
    int scale = cell_h >= 240 ? 3 : cell_h >= 120 ? 2 : 1;
    for (int i = 0; i < n; i++) {
        int f = dr_sheet_frame_index(i, n, seq->num_frames);
        dr_render_pose(&cell, &seq->frames[f], seq->width, seq->height);
        if (numbers) dr_draw_number(&cell, 2 * scale, 2 * scale, f, scale, label);
        int x0 = (i % cols) * (cell_w + DR_SHEET_GAP), y0 = (i / cols) * (cell_h + DR_SHEET_GAP);
        for (int y = 0; y < cell_h; y++)
            memcpy(dr_image_pixel(out, x0, y0 + y), dr_image_pixel(&cell, 0, y), (size_t)cell_w * 3);
    }
    for (int i = n; i < rows * cols; i++) { /* empty cells of the last row: black */
        int x0 = (i % cols) * (cell_w + DR_SHEET_GAP), y0 = (i / cols) * (cell_h + DR_SHEET_GAP);
        for (int y = 0; y < cell_h; y++) memset(dr_image_pixel(out, x0, y0 + y), 0, (size_t)cell_w * 3);
    }
    dr_image_free(&cell);
    return DR_OK;
}
