/* raster.h - anti-aliased, shaded 2D shapes drawn into a dr_image.
 *
 * The preview renderer builds a figure out of a few soft volumes: tapered capsules for limbs,
 * rotated ellipses for the head and hands, rounded polygons for the torso. Each shape is a
 * signed distance function evaluated per pixel over its bounding box: coverage = clamp(0.5 -
 * d) gives one-pixel anti-aliasing, an optional outline band darkens the rim so overlapping
 * parts of the same colour stay readable, and a shading mode turns the flat colour into a
 * cylinder or sphere lit from the upper left. Everything is float maths on the CPU, no
 * state, safe to call from several threads on different images. */
#ifndef DIRECTOR_RENDER_RASTER_H
#define DIRECTOR_RENDER_RASTER_H

#include <stdint.h>

#include "render/image.h"

typedef struct dr_rgb {
    float r, g, b; /* 0..255 */
} dr_rgb;

typedef struct dr_vec2 {
    float x, y;
} dr_vec2;

enum dr_shade_mode {
    DR_SHADE_FLAT = 0,     /* one colour */
    DR_SHADE_CYLINDER = 1, /* lit across the shape's axis (limbs, torso) */
    DR_SHADE_SPHERE = 2,   /* lit as a ball (head, hands) */
};

/* How a shape is painted. */
typedef struct dr_paint {
    dr_rgb color;
    float opacity;        /* 0..1, multiplies the coverage */
    int shade;            /* dr_shade_mode */
    float outline;        /* outline width in pixels (0 = none) */
    dr_rgb outline_color;
} dr_paint;

/* A solid paint with the default outline of the preview style. */
dr_paint dr_paint_solid(dr_rgb color, int shade, float outline);

dr_rgb dr_rgb_make(float r, float g, float b);
dr_rgb dr_rgb_scale(dr_rgb c, float k);
dr_rgb dr_rgb_mix(dr_rgb a, dr_rgb b, float t); /* a + (b - a) t */

/* A capsule from a (radius ra) to b (radius rb), round ends. */
void dr_raster_capsule(dr_image *img, dr_vec2 a, dr_vec2 b, float ra, float rb, const dr_paint *paint);
/* An ellipse centred at c with radii rx, ry, rotated by `angle` radians. */
void dr_raster_ellipse(dr_image *img, dr_vec2 c, float rx, float ry, float angle, const dr_paint *paint);
/* A polygon (convex or not, n <= 16 vertices) grown outwards by `round` pixels (rounded corners).
 * Cylinder shading runs across `axis_a`->`axis_b` (for the torso: neck to hips). */
void dr_raster_polygon(dr_image *img, const dr_vec2 *pts, int n, float round, dr_vec2 axis_a, dr_vec2 axis_b,
                       const dr_paint *paint);

/* Vertical gradient over rows [y0, y1) from `top` to `bottom`. */
void dr_raster_vgradient(dr_image *img, int y0, int y1, dr_rgb top, dr_rgb bottom);
/* Axis-aligned rectangle (anti-aliased on fractional edges), flat colour, opacity 0..1. */
void dr_raster_rect(dr_image *img, float x0, float y0, float x1, float y1, dr_rgb color, float opacity);

#endif
