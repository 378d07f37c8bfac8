/* Tests of the skeleton renderer (against the controlnet_aux draw_bodypose facts, written
 * out here independently of src/pose/skeleton.c), the OpenCV primitives it reproduces,
 * PNG round trips, the MP4 / GIF writers and contact sheets. */
#include <gif_lib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "io/png.h"
#include "io/video.h"
#include "render/pose_draw.h"
#include "render/sheet.h"
#include "testutil.h"

/* controlnet_aux open_pose/util.py draw_bodypose: limbSeq (1-based) and colors (RGB). */
static const int ref_limbs[17][2] = {{2, 3}, {2, 6}, {3, 4}, {4, 5}, {6, 7}, {7, 8}, {2, 9}, {9, 10}, {10, 11},
                                     {2, 12}, {12, 13}, {13, 14}, {2, 1}, {1, 15}, {15, 17}, {1, 16}, {16, 18}};
static const int ref_colors[18][3] = {{255, 0, 0}, {255, 85, 0}, {255, 170, 0}, {255, 255, 0}, {170, 255, 0},
                                      {85, 255, 0}, {0, 255, 0}, {0, 255, 85}, {0, 255, 170}, {0, 255, 255},
                                      {0, 170, 255}, {0, 85, 255}, {0, 0, 255}, {85, 0, 255}, {170, 0, 255},
                                      {255, 0, 255}, {255, 0, 170}, {255, 0, 85}};

/* A standing figure on the default 512 x 320 canvas. */
static dr_pose known_pose(void) {
    static const float xy[18][2] = {{256, 60}, {256, 100}, {216, 100}, {196, 150}, {186, 200}, {296, 100},
                                    {316, 150}, {326, 200}, {236, 200}, {231, 250}, {226, 300}, {276, 200},
                                    {281, 250}, {286, 300}, {246, 50}, {266, 50}, {236, 58}, {276, 58}};
    dr_pose p;
    for (int j = 0; j < 18; j++) p.kp[j] = (dr_keypoint){xy[j][0], xy[j][1], 0.9f};
    return p;
}

static double seg_dist(double px, double py, double ax, double ay, double bx, double by) {
    double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
    double t = l2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return hypot(px - ax - t * dx, py - ay - t * dy);
}

static void assert_pixel(dr_image *img, int x, int y, int r, int g, int b, const char *what) {
    uint8_t *p = dr_image_pixel(img, x, y);
    if (p[0] != r || p[1] != g || p[2] != b)
        fail_msg("%s at (%d, %d): got (%d, %d, %d), expected (%d, %d, %d)", what, x, y, p[0], p[1], p[2], r, g, b);
}

static void test_tables_match_controlnet_aux(void **state) {
    (void)state;
    for (int l = 0; l < 17; l++) {
        assert_int_equal(dr_limbs[l][0], ref_limbs[l][0] - 1);
        assert_int_equal(dr_limbs[l][1], ref_limbs[l][1] - 1);
        uint8_t c[3];
        dr_pose_limb_color(l, c);
        for (int k = 0; k < 3; k++) assert_int_equal(c[k], (int)(ref_colors[l][k] * 0.6));
    }
    for (int j = 0; j < 18; j++)
        for (int k = 0; k < 3; k++) assert_int_equal(dr_keypoint_colors[j][k], ref_colors[j][k]);
}

static void test_known_pose_colours(void **state) {
    (void)state;
    dr_image img;
    assert_int_equal(dr_image_alloc(&img, 512, 320), DR_OK);
    dr_image_fill(&img, 9, 9, 9);
    dr_pose pose = known_pose();
    dr_render_pose(&img, &pose, 512, 320);
    /* Background black, far from the figure. */
    assert_pixel(&img, 0, 0, 0, 0, 0, "background");
    assert_pixel(&img, 511, 319, 0, 0, 0, "background");
    assert_pixel(&img, 100, 160, 0, 0, 0, "background");
    /* Limb centres show the limb's colour at 0.6 intensity unless a later limb or a
     * keypoint disc paints over them. */
    int checked = 0;
    for (int l = 0; l < 17; l++) {
        const dr_keypoint *a = &pose.kp[ref_limbs[l][0] - 1], *b = &pose.kp[ref_limbs[l][1] - 1];
        double mx = 0.5 * (a->x + b->x), my = 0.5 * (a->y + b->y);
        bool covered = false;
        for (int m = l + 1; m < 17; m++) {
            const dr_keypoint *c = &pose.kp[ref_limbs[m][0] - 1], *d = &pose.kp[ref_limbs[m][1] - 1];
            covered |= seg_dist(mx, my, c->x, c->y, d->x, d->y) < 7;
        }
        for (int j = 0; j < 18; j++) covered |= hypot(mx - pose.kp[j].x, my - pose.kp[j].y) < 7;
        if (covered) continue;
        assert_pixel(&img, (int)mx, (int)my, (int)(ref_colors[l][0] * 0.6), (int)(ref_colors[l][1] * 0.6),
                     (int)(ref_colors[l][2] * 0.6), "limb centre");
        checked++;
    }
    assert_true(checked >= 11);
    /* Keypoint centres in full colour (keypoints close to a later one are painted over). */
    checked = 0;
    for (int j = 0; j < 18; j++) {
        bool covered = false;
        for (int m = j + 1; m < 18; m++) covered |= hypot(pose.kp[j].x - pose.kp[m].x, pose.kp[j].y - pose.kp[m].y) < 9;
        if (covered) continue;
        assert_pixel(&img, (int)pose.kp[j].x, (int)pose.kp[j].y, ref_colors[j][0], ref_colors[j][1], ref_colors[j][2],
                     "keypoint centre");
        checked++;
    }
    assert_true(checked >= 16);
    /* Only skeleton colours appear: no blending, no anti-aliasing in draw_bodypose. */
    for (int i = 0; i < 512 * 320; i++) {
        const uint8_t *p = img.rgb + 3 * i;
        bool ok = !p[0] && !p[1] && !p[2];
        for (int c = 0; c < 18 && !ok; c++)
            ok = (p[0] == ref_colors[c][0] && p[1] == ref_colors[c][1] && p[2] == ref_colors[c][2]) ||
                 (p[0] == (int)(ref_colors[c][0] * 0.6) && p[1] == (int)(ref_colors[c][1] * 0.6) &&
                  p[2] == (int)(ref_colors[c][2] * 0.6));
        if (!ok) fail_msg("pixel %d has a colour outside the palette", i);
    }
    /* A missing keypoint removes its disc and its limbs: the right wrist. */
    pose.kp[DR_KP_RWRIST] = (dr_keypoint){0, 0, 0};
    dr_render_pose(&img, &pose, 512, 320);
    assert_pixel(&img, 186, 200, 0, 0, 0, "missing wrist");
    assert_pixel(&img, 191, 175, 0, 0, 0, "limb to a missing wrist");
    assert_pixel(&img, 0, 0, 0, 0, 0, "(0, 0) of a missing keypoint");
    dr_image_free(&img);
}

static void test_scaled_canvas(void **state) {
    (void)state;
    dr_image img;
    assert_int_equal(dr_image_alloc(&img, 1024, 640), DR_OK);
    dr_pose pose = known_pose();
    dr_render_pose(&img, &pose, 512, 320);
    assert_pixel(&img, 2 * 216, 2 * 100, 255, 170, 0, "scaled right shoulder");
    assert_pixel(&img, 2 * 226, 2 * 300, 0, 170, 255, "scaled right ankle");
    /* the left upper arm centre (306, 125) doubled */
    assert_pixel(&img, 612, 250, 102, 153, 0, "scaled limb");
    dr_image_free(&img);
}

static void test_circle_matches_opencv(void **state) {
    (void)state;
    /* OpenCV's Circle() for radius 4 fills rows of half-widths 0,2,3,3,4,3,3,2,0 (worked
     * through its midpoint loop by hand). */
    static const int half[9] = {0, 2, 3, 3, 4, 3, 3, 2, 0};
    dr_image img;
    assert_int_equal(dr_image_alloc(&img, 20, 20), DR_OK);
    const uint8_t white[3] = {255, 255, 255};
    dr_fill_circle(&img, 10, 10, 4, white);
    for (int y = 0; y < 20; y++)
        for (int x = 0; x < 20; x++) {
            bool want = y >= 6 && y <= 14 && abs(x - 10) <= half[y - 6];
            assert_int_equal(dr_image_pixel(&img, x, y)[0] == 255, want);
        }
    /* Clipped at the border without touching memory outside. */
    dr_fill_circle(&img, 0, 0, 4, white);
    dr_fill_circle(&img, 19, 19, 4, white);
    dr_fill_circle(&img, -100, 5, 4, white);
    assert_int_equal(dr_image_pixel(&img, 0, 0)[0], 255);
    dr_image_free(&img);
}

/* The filled ellipse covers every pixel well inside the true ellipse and none well outside. */
static void test_ellipse_fill_against_geometry(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 3);
    dr_image img;
    assert_int_equal(dr_image_alloc(&img, 128, 128), DR_OK);
    int pts[2 * 362];
    const uint8_t white[3] = {255, 255, 255};
    for (int t = 0; t < 200; t++) {
        dr_image_fill(&img, 0, 0, 0);
        int cx = 40 + (int)dr_rng_below(&rng, 48), cy = 40 + (int)dr_rng_below(&rng, 48);
        int a = 2 + (int)dr_rng_below(&rng, 36), b = 4, angle = (int)dr_rng_below(&rng, 361) - 180;
        int n = dr_ellipse_poly(cx, cy, a, b, angle, pts);
        assert_true(n >= 8 && n <= 361);
        dr_fill_convex_poly(&img, pts, n, white);
        double ca = cos(angle * M_PI / 180), sa = sin(angle * M_PI / 180);
        for (int y = 0; y < 128; y++)
            for (int x = 0; x < 128; x++) {
                double dx = x - cx, dy = y - cy, u = dx * ca + dy * sa, v = -dx * sa + dy * ca;
                double inner = (u / (a - 1.0)) * (u / (a - 1.0)) + (v / (b - 1.0)) * (v / (b - 1.0));
                double outer = (u / (a + 1.5)) * (u / (a + 1.5)) + (v / (b + 1.5)) * (v / (b + 1.5));
                int on = dr_image_pixel(&img, x, y)[0] == 255;
                if (inner <= 1 && !on) fail_msg("ellipse %d,%d a=%d angle=%d: (%d,%d) inside but empty", cx, cy, a, angle, x, y);
                if (outer > 1 && on) fail_msg("ellipse %d,%d a=%d angle=%d: (%d,%d) outside but filled", cx, cy, a, angle, x, y);
            }
    }
    /* A zero-length limb still gives a polygon (OpenCV turns one point into two). */
    assert_int_equal(dr_ellipse_poly(5, 5, 0, 0, 0, pts), 2);
    dr_image_free(&img);
}

static void test_png_round_trip_and_corrupt(void **state) {
    (void)state;
    char dir[512], path[600];
    tu_tmpdir(dir, sizeof dir, "render");
    snprintf(path, sizeof path, "%s/frame.png", dir);
    dr_image img, back;
    assert_int_equal(dr_image_alloc(&img, 37, 23), DR_OK);
    for (int i = 0; i < 37 * 23 * 3; i++) img.rgb[i] = (uint8_t)(i * 7 + 3);
    dr_err err = {0};
    assert_int_equal(dr_png_write(path, &img, &err), DR_OK);
    assert_int_equal(dr_png_read(path, &back, &err), DR_OK);
    assert_int_equal(back.width, 37);
    assert_int_equal(back.height, 23);
    assert_memory_equal(back.rgb, img.rgb, 37 * 23 * 3);
    dr_image_free(&back);
    /* Truncated file: an error naming the file, no crash. */
    char *data;
    size_t size;
    assert_int_equal(dr_read_file(path, 1 << 20, &data, &size, &err), DR_OK);
    snprintf(path, sizeof path, "%s/cut.png", dir);
    assert_int_equal(dr_write_file_atomic(path, data, size / 2, &err), DR_OK);
    assert_int_not_equal(dr_png_read(path, &back, &err), DR_OK);
    assert_non_null(strstr(err.msg, "cut.png"));
    assert_null(back.rgb);
    snprintf(path, sizeof path, "%s/text.png", dir);
    assert_int_equal(dr_write_file_atomic(path, "hello", 5, &err), DR_OK);
    assert_int_equal(dr_png_read(path, &back, &err), DR_EFORMAT);
    free(data);
    /* Writing into a missing folder fails and leaves nothing. */
    snprintf(path, sizeof path, "%s/missing/x.png", dir);
    assert_int_not_equal(dr_png_write(path, &img, &err), DR_OK);
    dr_image_free(&img);
}

static size_t find_bytes(const char *hay, size_t n, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (!memcmp(hay + i, needle, m)) return i;
    return (size_t)-1;
}

static void test_mp4_and_gif(void **state) {
    (void)state;
    char dir[512], mp4[600], gif[600];
    tu_tmpdir(dir, sizeof dir, "video");
    snprintf(mp4, sizeof mp4, "%s/a.mp4", dir);
    snprintf(gif, sizeof gif, "%s/a.gif", dir);
    dr_err err = {0};
    dr_video_format fmt;
    assert_int_equal(dr_video_format_from_path(mp4, &fmt, &err), DR_OK);
    assert_int_equal(fmt, DR_VIDEO_MP4);
    assert_int_equal(dr_video_format_from_path("x.GIF", &fmt, &err), DR_OK);
    assert_int_equal(fmt, DR_VIDEO_GIF);
    assert_int_equal(dr_video_format_from_path("x.avi", &fmt, &err), DR_EINVAL);
    /* Odd size: padded to even for yuv420p. */
    dr_image img;
    assert_int_equal(dr_image_alloc(&img, 131, 81), DR_OK);
    dr_video_writer *vm, *vg;
    assert_int_equal(dr_video_open(&vm, mp4, DR_VIDEO_MP4, 131, 81, 30, &err), DR_OK);
    assert_int_equal(dr_video_open(&vg, gif, DR_VIDEO_GIF, 131, 81, 30, &err), DR_OK);
    dr_pose pose = known_pose();
    for (int f = 0; f < 12; f++) {
        for (int j = 0; j < 18; j++) pose.kp[j].x += 2;
        dr_render_pose(&img, &pose, 512, 320);
        assert_int_equal(dr_video_write(vm, &img, &err), DR_OK);
        assert_int_equal(dr_video_write(vg, &img, &err), DR_OK);
        assert_false(dr_file_exists(mp4)); /* nothing in place until the close */
    }
    assert_int_equal(dr_video_close(vm, &err), DR_OK);
    assert_int_equal(dr_video_close(vg, &err), DR_OK);
    char *data;
    size_t size;
    assert_int_equal(dr_read_file(mp4, 16 << 20, &data, &size, &err), DR_OK);
    assert_int_equal(find_bytes(data, size, "ftyp"), 4);
    size_t moov = find_bytes(data, size, "moov"), mdat = find_bytes(data, size, "mdat");
    assert_true(moov != (size_t)-1 && mdat != (size_t)-1 && moov < mdat); /* faststart */
    assert_true(find_bytes(data, size, "avc1") != (size_t)-1);
    free(data);
    /* The GIF decodes to 12 frames whose skeleton colours are exact. */
    int gerr;
    GifFileType *g = DGifOpenFileName(gif, &gerr);
    assert_non_null(g);
    assert_int_equal(DGifSlurp(g), GIF_OK);
    assert_int_equal(g->ImageCount, 12);
    assert_int_equal(g->SWidth, 131);
    dr_render_pose(&img, &pose, 512, 320);
    const SavedImage *last = &g->SavedImages[11];
    const ColorMapObject *cm = last->ImageDesc.ColorMap ? last->ImageDesc.ColorMap : g->SColorMap;
    for (int i = 0; i < 131 * 81; i++) {
        const GifColorType *c = &cm->Colors[last->RasterBits[i]];
        if (c->Red != img.rgb[3 * i] || c->Green != img.rgb[3 * i + 1] || c->Blue != img.rgb[3 * i + 2])
            fail_msg("GIF pixel %d differs from the frame", i);
    }
    GraphicsControlBlock gcb;
    DGifSavedExtensionToGCB(g, 0, &gcb);
    assert_true(gcb.DelayTime == 3 || gcb.DelayTime == 4); /* 1/30 s in centiseconds */
    DGifCloseFile(g, &gerr);
    /* Wrong frame size and an abandoned writer leave no file. */
    snprintf(mp4, sizeof mp4, "%s/b.mp4", dir);
    assert_int_equal(dr_video_open(&vm, mp4, DR_VIDEO_MP4, 64, 64, 30, &err), DR_OK);
    assert_int_equal(dr_video_write(vm, &img, &err), DR_EINVAL);
    dr_video_abort(vm);
    assert_false(dr_file_exists(mp4));
    assert_int_equal(dr_video_open(&vm, mp4, DR_VIDEO_MP4, 64, 64, 0, &err), DR_EINVAL);
    dr_image_free(&img);
}

static void test_contact_sheet(void **state) {
    (void)state;
    dr_pose_seq seq;
    assert_int_equal(dr_pose_seq_alloc(&seq, 50, 30, 512, 320), DR_OK);
    for (int f = 0; f < 50; f++) seq.frames[f] = known_pose();
    assert_int_equal(dr_sheet_frame_index(0, 6, 50), 0);
    assert_int_equal(dr_sheet_frame_index(5, 6, 50), 49);
    assert_int_equal(dr_sheet_frame_index(1, 6, 50), 10);
    dr_image sheet;
    dr_err err = {0};
    assert_int_equal(dr_pose_contact_sheet(&seq, 6, 256, 160, true, &sheet, &err), DR_OK);
    /* 6 cells of 256x160, about square: 2 columns x 3 rows with 2-pixel gaps */
    assert_int_equal(sheet.width, 2 * 256 + 2);
    assert_int_equal(sheet.height, 3 * 160 + 2 * 2);
    /* Cell 3 (row 1, column 1) holds the figure at half scale: the right shoulder. */
    assert_pixel(&sheet, 258 + 108, 162 + 50, 255, 170, 0, "sheet cell");
    assert_pixel(&sheet, 256, 10, 64, 64, 64, "gap");
    dr_image_free(&sheet);
    assert_int_equal(dr_pose_contact_sheet(&seq, 0, 256, 160, true, &sheet, &err), DR_EINVAL);
    dr_pose_seq_free(&seq);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_match_controlnet_aux),
        cmocka_unit_test(test_known_pose_colours),
        cmocka_unit_test(test_scaled_canvas),
        cmocka_unit_test(test_circle_matches_opencv),
        cmocka_unit_test(test_ellipse_fill_against_geometry),
        cmocka_unit_test(test_png_round_trip_and_corrupt),
        cmocka_unit_test(test_mp4_and_gif),
        cmocka_unit_test(test_contact_sheet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
