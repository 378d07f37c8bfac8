/* Tests of src/render/preview and raster: prompt parsing into colours, garments and scenes;
 * rendered figures carry the prompt's colours where the body parts are; scenes differ;
 * determinism; missing keypoints; the raster shapes against analytic coverage; speed. The
 * test writes a few PNGs into its scratch folder for looking at. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/parallel.h"
#include "io/png.h"
#include "pose/skeleton.h"
#include "render/preview.h"
#include "render/raster.h"
#include "testutil.h"

/* ---- helpers ---- */

enum { VIEW_FRONT, VIEW_SIDE_RIGHT, VIEW_BACK };

static void set_kp(dr_pose *p, int k, float x, float y) { p->kp[k] = (dr_keypoint){x, y, 0.9f}; }

/* A walking person on the 512x320 canvas, ~250 px tall. Front: walks in place facing the
 * camera; side: walks to the right across the canvas; back: as front, mirrored left/right. */
static void make_walk(dr_pose_seq *seq, int view, int frames) {
    assert_int_equal(dr_pose_seq_alloc(seq, frames, 30, DR_CANVAS_WIDTH, DR_CANVAS_HEIGHT), DR_OK);
    for (int f = 0; f < frames; f++) {
        dr_pose *p = &seq->frames[f];
        float ph = 2 * (float)M_PI * (float)f / 30.0f, sw = sinf(ph);
        float cx = view == VIEW_SIDE_RIGHT ? 140 + 240 * (float)f / (float)(frames > 1 ? frames - 1 : 1) : 256;
        float top = 62 + 3 * fabsf(cosf(ph)); /* a slight bob */
        if (view == VIEW_SIDE_RIGHT) {
            set_kp(p, DR_KP_NOSE, cx + 14, top + 8);
            set_kp(p, DR_KP_REYE, cx + 10, top + 2);
            set_kp(p, DR_KP_REAR, cx - 4, top + 6);
            set_kp(p, DR_KP_NECK, cx, top + 40);
            set_kp(p, DR_KP_RSHOULDER, cx + 2, top + 44);
            set_kp(p, DR_KP_LSHOULDER, cx - 2, top + 44);
            set_kp(p, DR_KP_RELBOW, cx + 2 + 22 * sw, top + 90);
            set_kp(p, DR_KP_RWRIST, cx + 2 + 40 * sw, top + 130);
            set_kp(p, DR_KP_LELBOW, cx - 2 - 22 * sw, top + 90);
            set_kp(p, DR_KP_LWRIST, cx - 2 - 40 * sw, top + 130);
            set_kp(p, DR_KP_RHIP, cx + 2, top + 126);
            set_kp(p, DR_KP_LHIP, cx - 2, top + 126);
            set_kp(p, DR_KP_RKNEE, cx + 2 - 26 * sw, top + 176);
            set_kp(p, DR_KP_RANKLE, cx + 2 - 40 * sw, top + 224);
            set_kp(p, DR_KP_LKNEE, cx - 2 + 26 * sw, top + 176);
            set_kp(p, DR_KP_LANKLE, cx - 2 + 40 * sw, top + 224);
        } else {
            float m = view == VIEW_BACK ? -1 : 1; /* the person's right is on the image left when facing us */
            if (view == VIEW_FRONT) {
                set_kp(p, DR_KP_NOSE, cx, top + 6);
                set_kp(p, DR_KP_REYE, cx - 6, top);
                set_kp(p, DR_KP_LEYE, cx + 6, top);
            }
            set_kp(p, DR_KP_REAR, cx - 13 * m, top + 4);
            set_kp(p, DR_KP_LEAR, cx + 13 * m, top + 4);
            set_kp(p, DR_KP_NECK, cx, top + 40);
            set_kp(p, DR_KP_RSHOULDER, cx - 30 * m, top + 44);
            set_kp(p, DR_KP_LSHOULDER, cx + 30 * m, top + 44);
            set_kp(p, DR_KP_RELBOW, cx - 38 * m, top + 90 - 6 * sw);
            set_kp(p, DR_KP_RWRIST, cx - 40 * m, top + 132 - 12 * sw);
            set_kp(p, DR_KP_LELBOW, cx + 38 * m, top + 90 + 6 * sw);
            set_kp(p, DR_KP_LWRIST, cx + 40 * m, top + 132 + 12 * sw);
            set_kp(p, DR_KP_RHIP, cx - 16 * m, top + 126);
            set_kp(p, DR_KP_LHIP, cx + 16 * m, top + 126);
            set_kp(p, DR_KP_RKNEE, cx - 18 * m, top + 176 - 6 * sw);
            set_kp(p, DR_KP_RANKLE, cx - 19 * m, top + 224 - 8 * fmaxf(sw, 0));
            set_kp(p, DR_KP_LKNEE, cx + 18 * m, top + 176 + 6 * sw);
            set_kp(p, DR_KP_LANKLE, cx + 19 * m, top + 224 - 8 * fmaxf(-sw, 0));
        }
    }
}

static dr_rgb px(const dr_image *img, float x, float y) {
    const uint8_t *p = img->rgb + ((size_t)(int)y * (size_t)img->width + (size_t)(int)x) * 3;
    return dr_rgb_make(p[0], p[1], p[2]);
}

/* Same hue family: the pixel is the colour scaled by the shading (0.4..1.3) within tolerance. */
static bool shaded_like(dr_rgb got, dr_rgb want) {
    float best = 1e9f;
    for (float k = 0.4f; k <= 1.3f; k += 0.02f) {
        float dr = got.r - fminf(255, want.r * k), dg = got.g - fminf(255, want.g * k), db = got.b - fminf(255, want.b * k);
        best = fminf(best, sqrtf(dr * dr + dg * dg + db * db));
    }
    return best < 30;
}

static void render_one(const char *prompt, const dr_pose_seq *seq, int frame, dr_image *img, const char *png_name) {
    dr_preview_style st;
    dr_preview_style_from_prompt(&st, prompt);
    dr_preview *pv;
    dr_err err = {0};
    if (dr_preview_create(&pv, &st, seq, 512, 320, &err)) fail_msg("%s", err.msg);
    assert_int_equal(dr_image_alloc(img, 512, 320), DR_OK);
    assert_int_equal(dr_preview_render_frame(pv, seq, frame, img, &err), DR_OK);
    if (png_name) {
        char dir[1024], path[1200];
        tu_tmpdir(dir, sizeof dir, "preview");
        snprintf(path, sizeof path, "%s/%s", dir, png_name);
        assert_int_equal(dr_png_write(path, img, NULL), DR_OK);
        print_message("wrote %s\n", path);
    }
    dr_preview_free(pv);
}

/* ---- prompt parsing ---- */

static void test_style_from_prompt(void **state) {
    (void)state;
    dr_preview_style st;
    dr_preview_style_from_prompt(&st,
                                 "The video shows a woman running through a grassy field. She wears a yellow tank top "
                                 "and black shorts. She has long brown hair and fair skin.");
    assert_int_equal(st.scene, DR_SCENE_FIELD);
    assert_true(st.named_scene);
    assert_true(st.look.named_top && st.look.named_bottom && st.look.named_hair && st.look.named_skin);
    assert_true(st.look.top.r > 200 && st.look.top.g > 180 && st.look.top.b < 100); /* yellow */
    assert_true(st.look.bottom.r < 60 && st.look.bottom.g < 60);                   /* black */
    assert_int_equal(st.look.sleeves, DR_SLEEVES_NONE);
    assert_int_equal(st.look.legwear, DR_LEGWEAR_SHORTS);
    assert_int_equal(st.look.hair_style, DR_HAIR_LONG);
    assert_true(st.look.hair.r > st.look.hair.b && st.look.hair.r < 130); /* brown */
    assert_true(st.look.skin.r > 240);                                     /* fair */

    dr_preview_style_from_prompt(&st, "A man in a dark blue hoodie and light grey jeans jogs along a city street.");
    assert_int_equal(st.scene, DR_SCENE_STREET);
    assert_int_equal(st.look.sleeves, DR_SLEEVES_LONG);
    assert_int_equal(st.look.legwear, DR_LEGWEAR_PANTS);
    assert_true(st.look.top.b > st.look.top.r && st.look.top.b < 150); /* dark blue */
    assert_true(st.look.bottom.r > 170);                                /* light grey */
    assert_int_equal(st.look.hair_style, DR_HAIR_SHORT);

    dr_preview_style_from_prompt(&st, "A girl in a red dress dances on the beach.");
    assert_int_equal(st.scene, DR_SCENE_BEACH);
    assert_int_equal(st.look.legwear, DR_LEGWEAR_SKIRT);
    assert_true(st.look.top.r > 150 && st.look.bottom.r > 150 && st.look.top.g < 80);

    dr_preview_style_from_prompt(&st, "A man with a shaved head wears a red cap, sunglasses and a navy windbreaker. "
                                      "He jogs on a trail.");
    assert_int_equal(st.look.hair_style, DR_HAIR_BALD);
    assert_int_equal(st.look.headwear, DR_HEADWEAR_CAP);
    assert_true(st.look.headwear_color.r > 150 && st.look.headwear_color.g < 80);
    assert_true(st.look.sunglasses);
    assert_false(st.look.beard || st.look.mustache);
    assert_int_equal(st.look.sleeves, DR_SLEEVES_LONG);
    assert_int_equal(st.scene, DR_SCENE_FOREST);
    dr_preview_style_from_prompt(&st, "The man has auburn hair and a mustache. An old man with a grey beard.");
    assert_true(st.look.beard && st.look.mustache);
    dr_preview_style_from_prompt(&st, "A woman has shoulder-length black hair. She is in her backyard.");
    assert_int_equal(st.look.hair_style, DR_HAIR_LONG);
    assert_int_equal(st.scene, DR_SCENE_PARK);
    assert_int_equal(st.look.headwear, DR_HEADWEAR_NONE);
    dr_preview_style_from_prompt(&st, "A barefoot man with dark skin does yoga.");
    assert_memory_equal(&st.look.shoes, &st.look.skin, sizeof st.look.skin);
    assert_true(st.look.skin.r < 120);
    const char *scenes[][2] = {{"He lifts weights in the gym.", "gym"},     {"She walks in the snow.", "snow"},
                               {"A boy plays in the park.", "park"},        {"He dances in his room.", "room"},
                               {"A woman hikes in the forest.", "forest"},  {"A person waves.", "studio"}};
    for (int i = 0; i < 6; i++) {
        dr_preview_style_from_prompt(&st, scenes[i][0]);
        assert_string_equal(dr_scene_name(st.scene), scenes[i][1]);
    }
    /* No prompt: defaults, and nothing claimed as named. */
    dr_preview_style_from_prompt(&st, NULL);
    assert_false(st.look.named_top || st.look.named_bottom || st.named_scene);
    dr_preview_style a, b;
    dr_preview_style_from_prompt(&a, "Someone jumps.");
    dr_preview_style_from_prompt(&b, "Someone jumps.");
    assert_memory_equal(&a, &b, sizeof a);
}

/* ---- rendering ---- */

static void test_colors_appear_on_body(void **state) {
    (void)state;
    dr_pose_seq seq;
    make_walk(&seq, VIEW_FRONT, 10);
    dr_image img;
    const char *prompt = "A woman walks through a grassy field. She wears a yellow tank top and black shorts, "
                         "long brown hair, fair skin.";
    render_one(prompt, &seq, 0, &img, "front_field.png");
    dr_preview_style st;
    dr_preview_style_from_prompt(&st, prompt);
    const dr_pose *p = &seq.frames[0];
    /* Torso centre (between shoulders and hips, upper part): the top's yellow. */
    float tx = p->kp[DR_KP_NECK].x, ty = p->kp[DR_KP_NECK].y + 0.4f * (p->kp[DR_KP_RHIP].y - p->kp[DR_KP_NECK].y);
    dr_rgb c = px(&img, tx, ty);
    if (!shaded_like(c, st.look.top)) fail_msg("torso pixel %.0f,%.0f,%.0f is not yellow", c.r, c.g, c.b);
    /* Upper thigh: the shorts' black. */
    float hx = p->kp[DR_KP_RHIP].x, hy = p->kp[DR_KP_RHIP].y;
    float thx = hx + 0.25f * (p->kp[DR_KP_RKNEE].x - hx), thy = hy + 0.25f * (p->kp[DR_KP_RKNEE].y - hy);
    c = px(&img, thx, thy);
    if (c.r > 70 || c.g > 70 || c.b > 70) fail_msg("thigh pixel %.0f,%.0f,%.0f is not black", c.r, c.g, c.b);
    /* Lower shin: skin (shorts end above the knee). */
    float kx = p->kp[DR_KP_RKNEE].x, ky = p->kp[DR_KP_RKNEE].y;
    c = px(&img, kx + 0.5f * (p->kp[DR_KP_RANKLE].x - kx), ky + 0.5f * (p->kp[DR_KP_RANKLE].y - ky));
    if (!shaded_like(c, st.look.skin)) fail_msg("shin pixel %.0f,%.0f,%.0f is not skin", c.r, c.g, c.b);
    /* Upper arm: bare in a tank top. */
    float sx = p->kp[DR_KP_RSHOULDER].x, sy = p->kp[DR_KP_RSHOULDER].y;
    c = px(&img, sx + 0.6f * (p->kp[DR_KP_RELBOW].x - sx), sy + 0.6f * (p->kp[DR_KP_RELBOW].y - sy));
    if (!shaded_like(c, st.look.skin)) fail_msg("arm pixel %.0f,%.0f,%.0f is not skin", c.r, c.g, c.b);
    /* Top of the head: hair. */
    c = px(&img, p->kp[DR_KP_NOSE].x, p->kp[DR_KP_NOSE].y - 0.3f * (p->kp[DR_KP_RHIP].y - p->kp[DR_KP_NECK].y));
    if (!shaded_like(c, st.look.hair)) fail_msg("head-top pixel %.0f,%.0f,%.0f is not hair", c.r, c.g, c.b);
    /* Far from the figure: the grass field (green) below the horizon, sky above. */
    c = px(&img, 20, 300);
    assert_true(c.g > c.r && c.g > c.b);
    c = px(&img, 20, 10);
    assert_true(c.b > c.r);
    dr_image_free(&img);

    /* A different prompt changes the torso colour. */
    render_one("A man in a red shirt and blue jeans.", &seq, 0, &img, "front_studio.png");
    c = px(&img, tx, ty);
    assert_true(c.r > 1.5f * c.g && c.r > 1.5f * c.b);
    c = px(&img, thx, thy);
    assert_true(c.b > c.r);
    dr_image_free(&img);
    dr_pose_seq_free(&seq);
}

static void test_views_and_scenes(void **state) {
    (void)state;
    dr_pose_seq seq;
    dr_image img;
    make_walk(&seq, VIEW_SIDE_RIGHT, 60);
    render_one("A man in a green jacket and khaki pants walks along the street.", &seq, 7, &img, "side_street.png");
    dr_image_free(&img);
    render_one("A woman with a blonde ponytail, pink top and white skirt walks on the beach.", &seq, 22, &img,
               "side_beach.png");
    dr_image_free(&img);
    dr_pose_seq_free(&seq);
    make_walk(&seq, VIEW_BACK, 10);
    render_one("A man with short black hair in a white t-shirt and navy shorts jogs in the park.", &seq, 3, &img,
               "back_park.png");
    dr_image_free(&img);
    dr_pose_seq_free(&seq);

    /* Each scene gives a different background (compare an empty frame's corners). */
    dr_pose_seq empty;
    assert_int_equal(dr_pose_seq_alloc(&empty, 1, 30, 512, 320), DR_OK);
    const char *prompts[] = {"studio", "grass field", "park", "beach", "room", "street", "gym", "snow", "forest"};
    dr_image bg[9];
    for (int s = 0; s < 9; s++) {
        char name[64];
        snprintf(name, sizeof name, "scene_%s.png", prompts[s]);
        for (char *c = name; *c; c++)
            if (*c == ' ') *c = '_';
        render_one(prompts[s], &empty, 0, &bg[s], name);
        for (int t = 0; t < s; t++) {
            double diff = 0;
            for (int i = 0; i < 512 * 320 * 3; i++) diff += abs((int)bg[s].rgb[i] - (int)bg[t].rgb[i]);
            diff /= 512 * 320 * 3;
            if (diff < 8) fail_msg("scenes %s and %s look alike (mean difference %.1f)", prompts[s], prompts[t], diff);
        }
    }
    for (int s = 0; s < 9; s++) dr_image_free(&bg[s]);
    dr_pose_seq_free(&empty);
}

static void test_missing_keypoints_and_determinism(void **state) {
    (void)state;
    dr_pose_seq seq;
    make_walk(&seq, VIEW_FRONT, 64);
    /* Knock out keypoints in many patterns, including everything and non-finite values. */
    for (int f = 0; f < 64; f++)
        for (int k = 0; k < DR_NUM_KEYPOINTS; k++)
            if ((f >> (k % 6)) & 1) seq.frames[f].kp[k] = (dr_keypoint){0, 0, 0};
    seq.frames[63].kp[DR_KP_NECK] = (dr_keypoint){NAN, 5, 1};
    seq.frames[62].kp[DR_KP_RWRIST] = (dr_keypoint){1e30f, -1e30f, 1};
    seq.frames[61].kp[DR_KP_LKNEE] = (dr_keypoint){-5000, 9000, 1}; /* far outside the image */
    dr_preview_style st;
    dr_preview_style_from_prompt(&st, "A boy in an orange sweater.");
    dr_preview *pv;
    assert_int_equal(dr_preview_create(&pv, &st, &seq, 256, 160, NULL), DR_OK);
    dr_image a[64], b;
    for (int f = 0; f < 64; f++) assert_int_equal(dr_image_alloc(&a[f], 256, 160), DR_OK);
    assert_int_equal(dr_image_alloc(&b, 256, 160), DR_OK);
    assert_int_equal(dr_preview_render_all(pv, &seq, a, NULL), DR_OK);
    for (int f = 0; f < 64; f++) { /* the parallel run equals frame-by-frame rendering */
        assert_int_equal(dr_preview_render_frame(pv, &seq, f, &b, NULL), DR_OK);
        assert_memory_equal(a[f].rgb, b.rgb, 256 * 160 * 3);
    }
    /* A frame with everything missing shows just the scene. */
    dr_pose_seq none;
    assert_int_equal(dr_pose_seq_alloc(&none, 1, 30, 512, 320), DR_OK);
    dr_preview *pv2;
    assert_int_equal(dr_preview_create(&pv2, &st, &none, 256, 160, NULL), DR_OK);
    assert_int_equal(dr_preview_render_frame(pv2, &none, 0, &b, NULL), DR_OK);
    dr_err err = {0};
    assert_int_equal(dr_preview_render_frame(pv2, &none, 1, &b, &err), DR_ERANGE);
    assert_int_equal(dr_preview_render_frame(pv2, &seq, 0, &b, &err), DR_EINVAL); /* made for another clip */
    assert_non_null(strstr(err.msg, "made for 1 frames"));
    dr_image wrong;
    assert_int_equal(dr_image_alloc(&wrong, 100, 100), DR_OK);
    assert_int_equal(dr_preview_render_frame(pv2, &none, 0, &wrong, &err), DR_EINVAL);
    assert_int_equal(dr_preview_create(&pv, &st, &none, 8, 8, &err), DR_EINVAL);
    dr_preview *pv3;
    assert_int_equal(dr_preview_create(&pv3, NULL, &none, 64, 40, &err), DR_OK); /* default style */
    dr_preview_free(pv3);
    dr_image_free(&wrong);
    dr_preview_free(pv2);
    dr_pose_seq_free(&none);
    for (int f = 0; f < 64; f++) dr_image_free(&a[f]);
    dr_image_free(&b);
    dr_preview_free(pv);
    dr_pose_seq_free(&seq);
}

/* Share of pixels that differ by more than 2 in some channel. */
static double differing(const dr_image *a, const dr_image *b) {
    long n = 0, total = (long)a->width * a->height;
    for (long i = 0; i < total; i++)
        for (int c = 0; c < 3; c++)
            if (abs((int)a->rgb[3 * i + c] - (int)b->rgb[3 * i + c]) > 2) {
                n++;
                break;
            }
    return (double)n / (double)total;
}

static void render_seq_frame(const dr_pose_seq *seq, int frame, dr_image *img) {
    dr_preview_style st;
    dr_preview_style_from_prompt(&st, "A man in a white shirt and blue jeans.");
    dr_preview *pv;
    assert_int_equal(dr_preview_create(&pv, &st, seq, 512, 320, NULL), DR_OK);
    assert_int_equal(dr_preview_render_frame(pv, seq, frame, img, NULL), DR_OK);
    dr_preview_free(pv);
}

static void test_keypoint_inference(void **state) {
    (void)state;
    dr_pose_seq full, gappy;
    make_walk(&full, VIEW_FRONT, 12);
    /* A wrist lost for one frame comes back interpolated from the frames around it. */
    dr_keypoint *w4 = &full.frames[4].kp[DR_KP_RWRIST], *w6 = &full.frames[6].kp[DR_KP_RWRIST];
    full.frames[5].kp[DR_KP_RWRIST] = (dr_keypoint){(w4->x + w6->x) / 2, (w4->y + w6->y) / 2, 0.9f};
    /* An elbow never seen is put halfway along the arm. */
    for (int f = 0; f < 12; f++) {
        dr_keypoint *sh = &full.frames[f].kp[DR_KP_LSHOULDER], *wr = &full.frames[f].kp[DR_KP_LWRIST];
        full.frames[f].kp[DR_KP_LELBOW] = (dr_keypoint){(sh->x + wr->x) / 2, (sh->y + wr->y) / 2, 0.9f};
    }
    assert_int_equal(dr_pose_seq_copy(&gappy, &full), DR_OK);
    gappy.frames[5].kp[DR_KP_RWRIST] = (dr_keypoint){0, 0, 0};
    for (int f = 0; f < 12; f++) gappy.frames[f].kp[DR_KP_LELBOW] = (dr_keypoint){0, 0, 0};
    dr_image a, b, c;
    assert_int_equal(dr_image_alloc(&a, 512, 320), DR_OK);
    assert_int_equal(dr_image_alloc(&b, 512, 320), DR_OK);
    assert_int_equal(dr_image_alloc(&c, 512, 320), DR_OK);
    render_seq_frame(&full, 5, &a);
    render_seq_frame(&gappy, 5, &b);
    double d = differing(&a, &b);
    if (d > 0.001) fail_msg("inferred keypoints render differently: %.4f of pixels differ", d);
    /* Without the inference the forearm would be missing: the images would differ. */
    gappy.frames[4].kp[DR_KP_RWRIST] = gappy.frames[6].kp[DR_KP_RWRIST] = (dr_keypoint){0, 0, 0};
    gappy.frames[3].kp[DR_KP_RWRIST] = gappy.frames[7].kp[DR_KP_RWRIST] = (dr_keypoint){0, 0, 0};
    gappy.frames[2].kp[DR_KP_RWRIST] = gappy.frames[8].kp[DR_KP_RWRIST] = (dr_keypoint){0, 0, 0};
    gappy.frames[1].kp[DR_KP_RWRIST] = gappy.frames[9].kp[DR_KP_RWRIST] = (dr_keypoint){0, 0, 0};
    render_seq_frame(&gappy, 5, &c);
    assert_true(differing(&a, &c) > 0.001);
    dr_image_free(&a), dr_image_free(&b), dr_image_free(&c);
    dr_pose_seq_free(&full), dr_pose_seq_free(&gappy);
}

/* ---- raster ---- */

static void test_raster_coverage(void **state) {
    (void)state;
    /* A white disc (capsule with a = b) on black: total intensity ~ pi r^2, and pixels well
     * inside/outside exact. */
    dr_image img;
    assert_int_equal(dr_image_alloc(&img, 64, 64), DR_OK);
    dr_paint white = dr_paint_solid(dr_rgb_make(255, 255, 255), DR_SHADE_FLAT, 0);
    dr_raster_capsule(&img, (dr_vec2){32.3f, 31.7f}, (dr_vec2){32.3f, 31.7f}, 10, 10, &white);
    double sum = 0;
    for (int i = 0; i < 64 * 64; i++) sum += img.rgb[3 * i] / 255.0;
    assert_true(fabs(sum - M_PI * 100) < 2.0);
    assert_int_equal(dr_image_pixel(&img, 32, 31)[0], 255);
    assert_int_equal(dr_image_pixel(&img, 32, 45)[0], 0);
    /* An axis-aligned ellipse: area pi rx ry. */
    dr_image_fill(&img, 0, 0, 0);
    dr_raster_ellipse(&img, (dr_vec2){32, 32}, 20, 8, 0, &white);
    sum = 0;
    for (int i = 0; i < 64 * 64; i++) sum += img.rgb[3 * i] / 255.0;
    assert_true(fabs(sum - M_PI * 160) < 3.0);
    /* Rotated by 90 degrees: the same area, now tall. */
    dr_image_fill(&img, 0, 0, 0);
    dr_raster_ellipse(&img, (dr_vec2){32, 32}, 20, 8, (float)M_PI / 2, &white);
    assert_int_equal(dr_image_pixel(&img, 32, 15)[0], 255);
    assert_int_equal(dr_image_pixel(&img, 15, 32)[0], 0);
    /* A square polygon: area 20 x 20. */
    dr_image_fill(&img, 0, 0, 0);
    dr_vec2 sq[4] = {{10, 10}, {30, 10}, {30, 30}, {10, 30}};
    dr_raster_polygon(&img, sq, 4, 0, (dr_vec2){20, 10}, (dr_vec2){20, 30}, &white);
    sum = 0;
    for (int i = 0; i < 64 * 64; i++) sum += img.rgb[3 * i] / 255.0;
    assert_true(fabs(sum - 400) < 2.0);
    /* Shapes entirely off the image or degenerate do nothing. */
    dr_image_fill(&img, 0, 0, 0);
    dr_raster_capsule(&img, (dr_vec2){-100, -100}, (dr_vec2){-90, -90}, 5, 5, &white);
    dr_raster_ellipse(&img, (dr_vec2){NAN, 3}, 5, 5, 0, &white);
    dr_raster_capsule(&img, (dr_vec2){3, 3}, (dr_vec2){9, 9}, 0, -1, &white);
    for (int i = 0; i < 64 * 64 * 3; i++) assert_int_equal(img.rgb[i], 0);
    dr_image_free(&img);
}

static void test_speed(void **state) {
    (void)state;
    dr_pose_seq seq;
    make_walk(&seq, VIEW_SIDE_RIGHT, DR_CLIP_FRAMES);
    dr_preview_style st;
    dr_preview_style_from_prompt(&st, "A woman in a yellow tank top and black shorts runs through a grassy field.");
    dr_image *frames = calloc(DR_CLIP_FRAMES, sizeof *frames);
    for (int f = 0; f < DR_CLIP_FRAMES; f++) assert_int_equal(dr_image_alloc(&frames[f], 512, 320), DR_OK);
    double t0 = dr_now();
    dr_preview *pv;
    assert_int_equal(dr_preview_create(&pv, &st, &seq, 512, 320, NULL), DR_OK);
    double t1 = dr_now();
    clock_t c1 = clock(); /* process CPU time, all threads: honest on a shared machine */
    assert_int_equal(dr_preview_render_all(pv, &seq, frames, NULL), DR_OK);
    double t2 = dr_now(), cpu = (double)(clock() - c1) / CLOCKS_PER_SEC;
    print_message("preview: setup %.1f ms, %d frames 512x320 in %.3f s = %.0f fps (%d threads), CPU %.3f s = "
                  "%.2f ms per frame\n",
                  (t1 - t0) * 1e3, DR_CLIP_FRAMES, t2 - t1, DR_CLIP_FRAMES / (t2 - t1), dr_get_threads(), cpu,
                  cpu * 1e3 / DR_CLIP_FRAMES);
    /* The target is well under 2 s on 2 cores; allow slack for a loaded CI machine. */
    assert_true(t2 - t1 < 4.0);
    dr_preview_free(pv);
    for (int f = 0; f < DR_CLIP_FRAMES; f++) dr_image_free(&frames[f]);
    free(frames);
    dr_pose_seq_free(&seq);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_style_from_prompt),
        cmocka_unit_test(test_colors_appear_on_body),
        cmocka_unit_test(test_views_and_scenes),
        cmocka_unit_test(test_missing_keypoints_and_determinism),
        cmocka_unit_test(test_keypoint_inference),
        cmocka_unit_test(test_raster_coverage),
        cmocka_unit_test(test_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
