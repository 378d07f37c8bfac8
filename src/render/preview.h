/* preview.h - a readable cartoon of the person, drawn from 2D poses (docs/RENDERING.md).
 *
 * Not a photoreal video: the preview shows what the generated motion looks like on a body.
 * Body parts are shaded, anti-aliased volumes (render/raster.h) - a torso from shoulders and
 * hips, tapered capsules for limbs, an ellipse head with hair, hands and shoes - stacked in a
 * plausible depth order inferred from the pose (facing the camera, facing away, or turned to
 * one side, from the shoulder order and the nose). Skin, hair and clothing colours and the
 * garment shapes (tank top / t-shirt / long sleeves, shorts / trousers / skirt or dress) come
 * from the full prompt ("a yellow tank top and black shorts", "long brown hair", "fair
 * skin"), and so does a simple scene (grass field, park, beach, room, street, gym, snow,
 * forest, studio). What the prompt does not name gets deterministic defaults.
 *
 * Use: dr_preview_style_from_prompt() once, dr_preview_create() for a pose sequence and an
 * output size (the scene background and the body scale are computed there, once), then
 * dr_preview_render_frame() for any frame (thread-safe: the preview is read-only) or
 * dr_preview_render_all() for the whole clip in parallel over frames (OpenMP). */
#ifndef DIRECTOR_RENDER_PREVIEW_H
#define DIRECTOR_RENDER_PREVIEW_H

#include <stdbool.h>

#include "core/error.h"
#include "pose/skeleton.h"
#include "render/image.h"
#include "render/raster.h"

enum dr_scene {
    DR_SCENE_STUDIO = 0, /* the default: a plain light backdrop */
    DR_SCENE_FIELD,
    DR_SCENE_PARK,
    DR_SCENE_BEACH,
    DR_SCENE_ROOM,
    DR_SCENE_STREET,
    DR_SCENE_GYM,
    DR_SCENE_SNOW,
    DR_SCENE_FOREST,
    DR_NUM_SCENES
};

enum dr_sleeves { DR_SLEEVES_NONE = 0, DR_SLEEVES_SHORT, DR_SLEEVES_LONG };
enum dr_legwear { DR_LEGWEAR_PANTS = 0, DR_LEGWEAR_SHORTS, DR_LEGWEAR_SKIRT };
enum dr_hair_style { DR_HAIR_SHORT = 0, DR_HAIR_LONG, DR_HAIR_PONYTAIL, DR_HAIR_BALD };
enum dr_headwear { DR_HEADWEAR_NONE = 0, DR_HEADWEAR_CAP, DR_HEADWEAR_BEANIE, DR_HEADWEAR_HELMET };

/* What the person looks like. The `named_*` flags say which parts the prompt named (the rest
 * are defaults), for tests and for plan.json. */
typedef struct dr_appearance {
    dr_rgb skin, hair, top, bottom, shoes, headwear_color;
    int sleeves;    /* dr_sleeves */
    int legwear;    /* dr_legwear */
    int hair_style; /* dr_hair_style */
    int headwear;   /* dr_headwear */
    bool sunglasses;
    bool beard, mustache;
    bool named_skin, named_hair, named_top, named_bottom, named_shoes;
} dr_appearance;

typedef struct dr_preview_style {
    dr_appearance look;
    int scene; /* dr_scene */
    bool named_scene;
} dr_preview_style;

/* Read appearance and scene from a prompt (any text; NULL or "" gives the defaults). Never
 * fails; the same prompt always gives the same style. */
void dr_preview_style_from_prompt(dr_preview_style *style, const char *prompt);
const char *dr_scene_name(int scene); /* "field", "beach", ... */

typedef struct dr_preview dr_preview;

/* Prepare a renderer for `seq` (its canvas maps into width x height, aspect kept, centred) in
 * `style` (NULL: the defaults): draws the scene background and measures the body scale over
 * the whole clip. */
int dr_preview_create(dr_preview **out, const dr_preview_style *style, const dr_pose_seq *seq, int width, int height,
                      dr_err *err);
void dr_preview_free(dr_preview *pv);
/* Draw frame `frame` of seq (the sequence given to create) into img (allocated, width x
 * height). Missing keypoints are inferred where possible (neck, hips) and otherwise their
 * parts are left out; a frame with no usable keypoints shows the scene alone. */
int dr_preview_render_frame(const dr_preview *pv, const dr_pose_seq *seq, int frame, dr_image *img, dr_err *err);
/* All frames: frames[i] must be allocated width x height; parallel over frames. */
int dr_preview_render_all(const dr_preview *pv, const dr_pose_seq *seq, dr_image *frames, dr_err *err);

#endif
