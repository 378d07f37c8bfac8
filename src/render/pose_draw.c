/* Reproduces controlnet_aux open_pose/util.py draw_bodypose and the three OpenCV 4.x
 * drawing routines it calls (modules/imgproc/src/drawing.cpp: ellipse2Poly,
 * FillConvexPoly with its 8-connected outline Line/LineIterator, Circle), so that our
 * frames match the annotator's pixels, not just its look. */
#include "render/pose_draw.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>

/* OpenCV fixed-point precision of FillConvexPoly (drawing.cpp: XY_SHIFT = 16). */
#define XY_SHIFT 16
#define XY_ONE (1 << XY_SHIFT)

/* Coordinates beyond this are not drawable and would overflow int conversions; the
 * sequence readers already refuse them, this only keeps the drawing code safe. */
#define DRAW_COORD_LIMIT 1.0e6f

/* draw_bodypose paints limbs with `[int(float(c) * 0.6) for c in color]`. */
void dr_pose_limb_color(int limb, uint8_t rgb[3]) {
    for (int c = 0; c < 3; c++) rgb[c] = (uint8_t)(int)((double)dr_keypoint_colors[limb][c] * 0.6);
}

static void hline(dr_image *img, int64_t y, int64_t x1, int64_t x2, const uint8_t rgb[3]) {
    if (y < 0 || y >= img->height) return;
    if (x1 < 0) x1 = 0;
    if (x2 >= img->width) x2 = img->width - 1;
    for (int64_t x = x1; x <= x2; x++) {
        uint8_t *p = dr_image_pixel(img, (int)x, (int)y);
        p[0] = rgb[0], p[1] = rgb[1], p[2] = rgb[2];
    }
}

static void put(dr_image *img, int64_t x, int64_t y, const uint8_t rgb[3]) {
    if (x < 0 || y < 0 || x >= img->width || y >= img->height) return;
    uint8_t *p = dr_image_pixel(img, (int)x, (int)y);
    p[0] = rgb[0], p[1] = rgb[1], p[2] = rgb[2];
}

/* OpenCV's SinTable holds sin(k degrees), k = 0..450, as float literals with 7 decimals;
 * ellipse2Poly reads both sin and cos from it, so we round the same way. */
static double sin_table(int deg) {
    return (double)(float)(round(sin((double)deg * M_PI / 180.0) * 1e7) / 1e7);
}

int dr_ellipse_poly(int cx, int cy, int half_w, int half_h, int angle, int *pts) {
    while (angle < 0) angle += 360;
    while (angle > 360) angle -= 360;
    /* sincos(angle, alpha, beta): alpha = cos = SinTable[450 - angle], beta = sin. */
    const double alpha = sin_table(450 - angle), beta = sin_table(angle);
    int n = 0;
    long prev_x = LONG_MIN, prev_y = LONG_MIN;
    /* for (i = arc_start; i < arc_end + delta; i += delta) with 0, 360, delta 1: 361 points. */
    for (int i = 0; i < 360 + 1; i++) {
        double x = half_w * sin_table(450 - i), y = half_h * sin_table(i);
        /* cvRound: round half to even, as lrint does in the default rounding mode. */
        long px = lrint((double)cx + x * alpha - y * beta);
        long py = lrint((double)cy + x * beta + y * alpha);
        if (px != prev_x || py != prev_y) {
            pts[2 * n] = (int)px, pts[2 * n + 1] = (int)py;
            n++;
            prev_x = px, prev_y = py;
        }
    }
    if (n == 1) { /* a zero-size ellipse becomes the centre twice */
        pts[0] = pts[2] = cx, pts[1] = pts[3] = cy;
        n = 2;
    }
    return n;
}

/* OpenCV Line() through LineIterator(connectivity 8, leftToRight): a Bresenham walk whose
 * tie-breaking we keep. (OpenCV clips the segment to the image first; for segments
 * crossing the border that can move the outline by a pixel; inside the image it is the
 * same.) */
static void line8(dr_image *img, int64_t x1, int64_t y1, int64_t x2, int64_t y2, const uint8_t rgb[3]) {
    int64_t dx = x2 - x1, dy = y2 - y1, sx = 1, sy = 1;
    if (dx < 0) { /* leftToRight: swap the end points */
        dx = -dx, dy = -dy;
        int64_t t = x1; x1 = x2; x2 = t;
        t = y1; y1 = y2; y2 = t;
    }
    if (dy < 0) dy = -dy, sy = -1;
    int vert = dy > dx;
    if (vert) { int64_t t = dx; dx = dy; dy = t; }
    int64_t err = dx - (dy + dy), plus_delta = dx + dx, minus_delta = -(dy + dy);
    int64_t x = x1, y = y1;
    for (int64_t i = 0; i <= dx; i++) {
        put(img, x, y, rgb);
        int64_t mask = err < 0 ? -1 : 0;
        err += minus_delta + (plus_delta & mask);
        /* major axis always steps, minor axis steps when err was negative */
        if (!vert) x += sx, y += sy & mask;
        else y += sy, x += sx & mask;
    }
}

void dr_fill_convex_poly(dr_image *img, const int *v, int npts, const uint8_t rgb[3]) {
    if (npts <= 0) return;
    const int64_t delta1 = XY_ONE >> 1, delta2 = XY_ONE >> 1; /* LINE_8: round both ends */
    int imin = 0;
    int64_t xmin = v[0], xmax = v[0], ymin = v[1], ymax = v[1];
    int64_t p0x = v[2 * (npts - 1)], p0y = v[2 * (npts - 1) + 1];
    for (int i = 0; i < npts; i++) {
        int64_t px = v[2 * i], py = v[2 * i + 1];
        if (py < ymin) ymin = py, imin = i;
        if (py > ymax) ymax = py;
        if (px > xmax) xmax = px;
        if (px < xmin) xmin = px;
        line8(img, p0x, p0y, px, py, rgb); /* the outline, drawn before the fill */
        p0x = px, p0y = py;
    }
    if (npts < 3 || xmax < 0 || ymax < 0 || xmin >= img->width || ymin >= img->height) return;
    if (ymax > img->height - 1) ymax = img->height - 1;

    struct { int idx, di; int64_t x, dx; int64_t ye; } edge[2];
    int edges = npts;
    int64_t y = ymin;
    edge[0].idx = edge[1].idx = imin;
    edge[0].ye = edge[1].ye = y;
    edge[0].di = 1;
    edge[1].di = npts - 1;
    edge[0].x = edge[1].x = -XY_ONE;
    edge[0].dx = edge[1].dx = 0;
    do {
        for (int i = 0; i < 2; i++) {
            if (y < edge[i].ye) continue;
            int idx0 = edge[i].idx, di = edge[i].di, idx = idx0 + di;
            if (idx >= npts) idx -= npts;
            for (; edges-- > 0;) {
                int64_t ty = v[2 * idx + 1];
                if (ty > y) {
                    int64_t xs = (int64_t)v[2 * idx0] * XY_ONE, xe = (int64_t)v[2 * idx] * XY_ONE;
                    edge[i].ye = ty;
                    edge[i].dx = ((xe - xs) * 2 + (ty - y)) / (2 * (ty - y));
                    edge[i].x = xs;
                    edge[i].idx = idx;
                    break;
                }
                idx0 = idx;
                idx += di;
                if (idx >= npts) idx -= npts;
            }
        }
        if (edges < 0) break;
        if (y >= 0) {
            int left = edge[0].x > edge[1].x, right = !left;
            /* arithmetic shift of possibly negative fixed-point values, as OpenCV does */
            int64_t xx1 = (edge[left].x + delta1) >> XY_SHIFT, xx2 = (edge[right].x + delta2) >> XY_SHIFT;
            if (xx2 >= 0 && xx1 < img->width) hline(img, y, xx1, xx2, rgb);
        }
        edge[0].x += edge[0].dx;
        edge[1].x += edge[1].dx;
    } while (++y <= ymax);
}

void dr_fill_circle(dr_image *img, int cx, int cy, int radius, const uint8_t rgb[3]) {
    /* OpenCV Circle(..., fill = 1): a midpoint walk over one octant, filling the four
     * mirrored spans per step. */
    int64_t err = 0, dx = radius, dy = 0, plus = 1, minus = ((int64_t)radius << 1) - 1;
    while (dx >= dy) {
        hline(img, (int64_t)cy - dy, (int64_t)cx - dx, (int64_t)cx + dx, rgb);
        hline(img, (int64_t)cy + dy, (int64_t)cx - dx, (int64_t)cx + dx, rgb);
        hline(img, (int64_t)cy - dx, (int64_t)cx - dy, (int64_t)cx + dy, rgb);
        hline(img, (int64_t)cy + dx, (int64_t)cx - dy, (int64_t)cx + dy, rgb);
        dy++;
        err += plus;
        plus += 2;
        int64_t mask = (err <= 0) - 1;
        err -= minus & mask;
        dx += mask;
        minus -= mask & 2;
    }
}

static int drawable(const dr_keypoint *k, float sx, float sy) {
    if (!dr_keypoint_present(k)) return 0;
    float x = k->x * sx, y = k->y * sy;
    return isfinite(x) && isfinite(y) && fabsf(x) < DRAW_COORD_LIMIT && fabsf(y) < DRAW_COORD_LIMIT;
}

void dr_draw_pose(dr_image *img, const dr_pose *pose, int pose_width, int pose_height) {
    /* controlnet_aux holds keypoints normalized to [0, 1] and multiplies by the canvas
     * W, H; we hold pixels of the pose canvas, so x * (W / pose_width) is the same value. */
    const float sx = pose_width > 0 ? (float)img->width / (float)pose_width : 1.0f;
    const float sy = pose_height > 0 ? (float)img->height / (float)pose_height : 1.0f;
    int pts[2 * 362];
    for (int l = 0; l < DR_NUM_LIMBS; l++) {
        const dr_keypoint *a = &pose->kp[dr_limbs[l][0]], *b = &pose->kp[dr_limbs[l][1]];
        if (!drawable(a, sx, sy) || !drawable(b, sx, sy)) continue;
        /* draw_bodypose computes in float64: Y = x * W, X = y * H (its names are swapped). */
        double ax = (double)a->x * sx, ay = (double)a->y * sy, bx = (double)b->x * sx, by = (double)b->y * sy;
        double mx = 0.5 * (ax + bx), my = 0.5 * (ay + by);
        double length = sqrt((ay - by) * (ay - by) + (ax - bx) * (ax - bx));
        double angle = atan2(ay - by, ax - bx) * 180.0 / M_PI;
        /* Python int() truncates toward zero, as a C cast does. */
        int n = dr_ellipse_poly((int)mx, (int)my, (int)(length / 2), DR_POSE_STICK_WIDTH, (int)angle, pts);
        uint8_t color[3];
        dr_pose_limb_color(l, color);
        dr_fill_convex_poly(img, pts, n, color);
    }
    for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
        const dr_keypoint *k = &pose->kp[j];
        if (!drawable(k, sx, sy)) continue;
        /* x = int(x * W); cv2.circle(canvas, (x, y), 4, color, thickness=-1) */
        dr_fill_circle(img, (int)((double)k->x * sx), (int)((double)k->y * sy), DR_POSE_KEYPOINT_RADIUS,
                       dr_keypoint_colors[j]);
    }
}

void dr_render_pose(dr_image *img, const dr_pose *pose, int pose_width, int pose_height) {
    dr_image_fill(img, 0, 0, 0);
    dr_draw_pose(img, pose, pose_width, pose_height);
}
