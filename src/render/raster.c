/* raster.c - signed-distance shapes with anti-aliasing, outline and shading (see raster.h). */
#include "render/raster.h"

#include <math.h>

/* Light from the upper left, towards the viewer (x right, y down, z out of the screen). */
#define LIGHT_X (-0.48f)
#define LIGHT_Y (-0.62f)
#define LIGHT_Z (0.62f)
#define AMBIENT 0.58f
#define DIFFUSE 0.55f

dr_rgb dr_rgb_make(float r, float g, float b) { return (dr_rgb){r, g, b}; }
dr_rgb dr_rgb_scale(dr_rgb c, float k) { return (dr_rgb){c.r * k, c.g * k, c.b * k}; }
dr_rgb dr_rgb_mix(dr_rgb a, dr_rgb b, float t) {
    return (dr_rgb){a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

dr_paint dr_paint_solid(dr_rgb color, int shade, float outline) {
    return (dr_paint){color, 1.0f, shade, outline, dr_rgb_scale(color, 0.45f)};
}

static inline float clamp01(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

static inline uint8_t to_u8(float v) { return (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : v + 0.5f); }

/* Brightness of a surface whose normal's screen part is (nx, ny), |n| <= 1. */
static inline float lighting(float nx, float ny) {
    float r2 = nx * nx + ny * ny;
    float nz = r2 < 1 ? sqrtf(1 - r2) : 0;
    float diffuse = nx * LIGHT_X + ny * LIGHT_Y + nz * LIGHT_Z;
    return AMBIENT + DIFFUSE * (diffuse > 0 ? diffuse : 0);
}

/* Paint one pixel: d = signed distance (negative inside), (nx, ny) = screen normal for shading. */
static inline void plot(uint8_t *px, float d, float nx, float ny, const dr_paint *p) {
    float a = clamp01(0.5f - d) * p->opacity;
    if (a <= 0) return;
    dr_rgb c = p->color;
    if (p->shade != DR_SHADE_FLAT) c = dr_rgb_scale(c, lighting(nx, ny));
    if (p->outline > 0) c = dr_rgb_mix(p->outline_color, c, clamp01(0.5f - (d + p->outline)));
    px[0] = to_u8(px[0] + (c.r - px[0]) * a);
    px[1] = to_u8(px[1] + (c.g - px[1]) * a);
    px[2] = to_u8(px[2] + (c.b - px[2]) * a);
}

/* Pixel bounds of a box grown by a margin, clipped to the image; false when empty. */
static int clip_box(const dr_image *img, float x0, float y0, float x1, float y1, int *ix0, int *iy0, int *ix1,
                    int *iy1) {
    if (!(x0 <= x1 && y0 <= y1)) return 0; /* also rejects NaN */
    x0 = floorf(x0 - 2), y0 = floorf(y0 - 2), x1 = ceilf(x1 + 2), y1 = ceilf(y1 + 2);
    if (x1 < 0 || y1 < 0 || x0 >= img->width || y0 >= img->height) return 0;
    *ix0 = x0 < 0 ? 0 : (int)x0;
    *iy0 = y0 < 0 ? 0 : (int)y0;
    *ix1 = x1 > img->width ? img->width : (int)x1;
    *iy1 = y1 > img->height ? img->height : (int)y1;
    return *ix0 < *ix1 && *iy0 < *iy1;
}

void dr_raster_capsule(dr_image *img, dr_vec2 a, dr_vec2 b, float ra, float rb, const dr_paint *paint) {
    if (!(ra > 0) || !(rb > 0)) return;
    float rmax = ra > rb ? ra : rb;
    int x0, y0, x1, y1;
    if (!clip_box(img, fminf(a.x, b.x) - rmax, fminf(a.y, b.y) - rmax, fmaxf(a.x, b.x) + rmax, fmaxf(a.y, b.y) + rmax,
                  &x0, &y0, &x1, &y1))
        return;
    float abx = b.x - a.x, aby = b.y - a.y, len2 = abx * abx + aby * aby;
    float inv_len2 = len2 > 1e-12f ? 1.0f / len2 : 0;
    for (int y = y0; y < y1; y++) {
        uint8_t *row = dr_image_pixel(img, 0, y);
        float py = (float)y + 0.5f;
        for (int x = x0; x < x1; x++) {
            float px = (float)x + 0.5f;
            float t = clamp01(((px - a.x) * abx + (py - a.y) * aby) * inv_len2);
            float cx = a.x + t * abx, cy = a.y + t * aby, r = ra + t * (rb - ra);
            float dx = px - cx, dy = py - cy, dist = sqrtf(dx * dx + dy * dy);
            float d = dist - r;
            if (d > 1.0f) continue;
            plot(row + 3 * x, d, dx / r, dy / r, paint);
        }
    }
}

void dr_raster_ellipse(dr_image *img, dr_vec2 c, float rx, float ry, float angle, const dr_paint *paint) {
    if (!(rx > 0) || !(ry > 0)) return;
    float ca = cosf(angle), sa = sinf(angle), rmax = rx > ry ? rx : ry;
    int x0, y0, x1, y1;
    if (!clip_box(img, c.x - rmax, c.y - rmax, c.x + rmax, c.y + rmax, &x0, &y0, &x1, &y1)) return;
    for (int y = y0; y < y1; y++) {
        uint8_t *row = dr_image_pixel(img, 0, y);
        float qy0 = (float)y + 0.5f - c.y;
        for (int x = x0; x < x1; x++) {
            float qx0 = (float)x + 0.5f - c.x;
            /* Into the ellipse's frame. */
            float lx = ca * qx0 + sa * qy0, ly = -sa * qx0 + ca * qy0;
            float ux = lx / rx, uy = ly / ry;
            float k0 = sqrtf(ux * ux + uy * uy);
            float gx = lx / (rx * rx), gy = ly / (ry * ry);
            float k1 = sqrtf(gx * gx + gy * gy);
            /* Distance estimate (k0 - 1) k0 / k1: exact on the axes, good near the rim. */
            float d = k1 > 1e-9f ? (k0 - 1) * k0 / k1 : -fminf(rx, ry);
            if (d > 1.0f) continue;
            /* Sphere normal: the unit-disc position, rotated back to the screen. */
            plot(row + 3 * x, d, ca * ux - sa * uy, sa * ux + ca * uy, paint);
        }
    }
}

static float seg_dist2(float px, float py, dr_vec2 a, dr_vec2 b) {
    float abx = b.x - a.x, aby = b.y - a.y, l2 = abx * abx + aby * aby;
    float t = l2 > 1e-12f ? clamp01(((px - a.x) * abx + (py - a.y) * aby) / l2) : 0;
    float dx = px - a.x - t * abx, dy = py - a.y - t * aby;
    return dx * dx + dy * dy;
}

void dr_raster_polygon(dr_image *img, const dr_vec2 *pts, int n, float round, dr_vec2 axis_a, dr_vec2 axis_b,
                       const dr_paint *paint) {
    if (n < 3 || n > 16) return;
    float bx0 = pts[0].x, by0 = pts[0].y, bx1 = bx0, by1 = by0;
    for (int i = 1; i < n; i++) {
        bx0 = fminf(bx0, pts[i].x), bx1 = fmaxf(bx1, pts[i].x);
        by0 = fminf(by0, pts[i].y), by1 = fmaxf(by1, pts[i].y);
    }
    int x0, y0, x1, y1;
    if (!clip_box(img, bx0 - round, by0 - round, bx1 + round, by1 + round, &x0, &y0, &x1, &y1)) return;
    /* Shading axis: the normal's screen part is the offset across the axis over the widest
     * half-width, so the shape looks like a lit cylinder around the axis. */
    float ax = axis_b.x - axis_a.x, ay = axis_b.y - axis_a.y, al = sqrtf(ax * ax + ay * ay);
    float perp_x = al > 1e-6f ? -ay / al : 1, perp_y = al > 1e-6f ? ax / al : 0;
    float half = 1e-3f;
    for (int i = 0; i < n; i++) half = fmaxf(half, fabsf((pts[i].x - axis_a.x) * perp_x + (pts[i].y - axis_a.y) * perp_y));
    half += round;
    for (int y = y0; y < y1; y++) {
        uint8_t *row = dr_image_pixel(img, 0, y);
        float py = (float)y + 0.5f;
        for (int x = x0; x < x1; x++) {
            float px = (float)x + 0.5f;
            float best = 1e30f;
            int inside = 0;
            for (int i = 0, j = n - 1; i < n; j = i++) {
                float d2 = seg_dist2(px, py, pts[j], pts[i]);
                if (d2 < best) best = d2;
                /* Even-odd crossing test along +x. */
                if ((pts[i].y > py) != (pts[j].y > py) &&
                    px < (pts[j].x - pts[i].x) * (py - pts[i].y) / (pts[j].y - pts[i].y) + pts[i].x)
                    inside = !inside;
            }
            float d = (inside ? -sqrtf(best) : sqrtf(best)) - round;
            if (d > 1.0f) continue;
            float u = ((px - axis_a.x) * perp_x + (py - axis_a.y) * perp_y) / half;
            u = u < -1 ? -1 : u > 1 ? 1 : u;
            plot(row + 3 * x, d, u * perp_x * 0.9f, u * perp_y * 0.9f - 0.15f, paint);
        }
    }
}

void dr_raster_vgradient(dr_image *img, int y0, int y1, dr_rgb top, dr_rgb bottom) {
    if (y0 < 0) y0 = 0;
    if (y1 > img->height) y1 = img->height;
    for (int y = y0; y < y1; y++) {
        float t = y1 - y0 > 1 ? (float)(y - y0) / (float)(y1 - y0 - 1) : 0;
        dr_rgb c = dr_rgb_mix(top, bottom, t);
        uint8_t r = to_u8(c.r), g = to_u8(c.g), b = to_u8(c.b);
        uint8_t *row = dr_image_pixel(img, 0, y);
        for (int x = 0; x < img->width; x++) row[3 * x] = r, row[3 * x + 1] = g, row[3 * x + 2] = b;
    }
}

void dr_raster_rect(dr_image *img, float x0, float y0, float x1, float y1, dr_rgb color, float opacity) {
    int ix0, iy0, ix1, iy1;
    if (!clip_box(img, x0, y0, x1, y1, &ix0, &iy0, &ix1, &iy1)) return;
    for (int y = iy0; y < iy1; y++) {
        float cy = clamp01(fminf((float)y + 1 - y0, y1 - (float)y));
        if (cy <= 0) continue;
        uint8_t *row = dr_image_pixel(img, 0, y);
        for (int x = ix0; x < ix1; x++) {
            float a = cy * clamp01(fminf((float)x + 1 - x0, x1 - (float)x)) * opacity;
            if (a <= 0) continue;
            uint8_t *px = row + 3 * x;
            px[0] = to_u8(px[0] + (color.r - px[0]) * a);
            px[1] = to_u8(px[1] + (color.g - px[1]) * a);
            px[2] = to_u8(px[2] + (color.b - px[2]) * a);
        }
    }
}
