/* preview.c - the cartoon preview renderer: prompt -> style, scene backgrounds, the figure
 * (see preview.h). */
#include "render/preview.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

/* ------------------------------------------------------------------------------------
 * Reading the prompt.
 * ------------------------------------------------------------------------------------ */

typedef struct named_color {
    const char *word;
    uint8_t r, g, b;
} named_color;

static const named_color colors[] = {
    {"red", 200, 40, 40},        {"crimson", 180, 20, 50},    {"maroon", 120, 30, 40},
    {"burgundy", 120, 25, 45},   {"orange", 240, 130, 30},    {"yellow", 245, 210, 40},
    {"gold", 220, 175, 50},      {"golden", 220, 175, 50},    {"mustard", 210, 170, 50},
    {"green", 60, 150, 70},      {"olive", 110, 120, 50},     {"lime", 150, 210, 60},
    {"teal", 30, 130, 130},      {"turquoise", 60, 200, 200}, {"cyan", 60, 200, 220},
    {"blue", 45, 90, 190},       {"navy", 30, 40, 90},        {"denim", 70, 100, 150},
    {"purple", 120, 60, 160},    {"violet", 140, 80, 190},    {"lavender", 180, 160, 220},
    {"magenta", 200, 40, 150},   {"pink", 240, 150, 180},     {"brown", 110, 70, 40},
    {"tan", 200, 160, 110},      {"beige", 220, 200, 165},    {"khaki", 190, 170, 120},
    {"cream", 240, 230, 200},    {"white", 240, 240, 240},    {"black", 30, 30, 32},
    {"gray", 130, 130, 135},     {"grey", 130, 130, 135},     {"silver", 190, 190, 200},
    {"charcoal", 60, 62, 66},    {"blonde", 225, 195, 120},   {"blond", 225, 195, 120},
    {"auburn", 140, 60, 35},     {"ginger", 190, 90, 40},     {"coral", 240, 120, 100},
    {"peach", 245, 190, 150},    {"mint", 160, 220, 180},     {"indigo", 60, 50, 140},
};

/* Hair colours differ from fabric colours of the same name. */
static const named_color hair_colors[] = {
    {"black", 25, 22, 22},     {"brown", 90, 55, 30},   {"blonde", 238, 205, 95},  {"blond", 238, 205, 95},
    {"red", 160, 60, 30},      {"ginger", 180, 80, 35}, {"auburn", 130, 55, 30},   {"gray", 160, 160, 160},
    {"grey", 160, 160, 160},   {"white", 225, 225, 225}, {"silver", 200, 200, 205}, {"dark", 45, 32, 25},
    {"light", 180, 140, 90},
};

typedef struct skin_tone {
    const char *word;
    uint8_t r, g, b;
} skin_tone;

static const skin_tone skin_tones[] = {
    {"fair", 248, 214, 190}, {"pale", 250, 222, 205}, {"light", 240, 200, 170}, {"white", 240, 205, 180},
    {"olive", 200, 160, 115}, {"tan", 205, 150, 105}, {"tanned", 205, 150, 105}, {"medium", 210, 160, 120},
    {"brown", 150, 100, 65},  {"dark", 100, 65, 45},  {"black", 90, 58, 40},     {"ebony", 80, 52, 38},
};

enum { G_TOP, G_BOTTOM, G_DRESS, G_SHOES };

typedef struct garment {
    const char *word;
    int kind;   /* G_* */
    int detail; /* sleeves for tops/dresses, legwear for bottoms */
} garment;

static const garment garments[] = {
    {"shirt", G_TOP, DR_SLEEVES_SHORT},      {"tshirt", G_TOP, DR_SLEEVES_SHORT},   {"tee", G_TOP, DR_SLEEVES_SHORT},
    {"top", G_TOP, DR_SLEEVES_SHORT},        {"tank", G_TOP, DR_SLEEVES_NONE},      {"singlet", G_TOP, DR_SLEEVES_NONE},
    {"vest", G_TOP, DR_SLEEVES_NONE},        {"camisole", G_TOP, DR_SLEEVES_NONE},  {"bra", G_TOP, DR_SLEEVES_NONE},
    {"blouse", G_TOP, DR_SLEEVES_SHORT},     {"jersey", G_TOP, DR_SLEEVES_SHORT},   {"polo", G_TOP, DR_SLEEVES_SHORT},
    {"sweater", G_TOP, DR_SLEEVES_LONG},     {"jumper", G_TOP, DR_SLEEVES_LONG},    {"hoodie", G_TOP, DR_SLEEVES_LONG},
    {"sweatshirt", G_TOP, DR_SLEEVES_LONG},  {"jacket", G_TOP, DR_SLEEVES_LONG},    {"coat", G_TOP, DR_SLEEVES_LONG},
    {"cardigan", G_TOP, DR_SLEEVES_LONG},    {"blazer", G_TOP, DR_SLEEVES_LONG},    {"tracksuit", G_TOP, DR_SLEEVES_LONG},
    {"uniform", G_TOP, DR_SLEEVES_LONG},     {"suit", G_TOP, DR_SLEEVES_LONG},      {"kimono", G_DRESS, DR_SLEEVES_LONG},
    {"shorts", G_BOTTOM, DR_LEGWEAR_SHORTS}, {"pants", G_BOTTOM, DR_LEGWEAR_PANTS}, {"trousers", G_BOTTOM, DR_LEGWEAR_PANTS},
    {"jeans", G_BOTTOM, DR_LEGWEAR_PANTS},   {"leggings", G_BOTTOM, DR_LEGWEAR_PANTS}, {"joggers", G_BOTTOM, DR_LEGWEAR_PANTS},
    {"windbreaker", G_TOP, DR_SLEEVES_LONG}, {"fleece", G_TOP, DR_SLEEVES_LONG}, {"parka", G_TOP, DR_SLEEVES_LONG},
    {"sweatpants", G_BOTTOM, DR_LEGWEAR_PANTS}, {"tights", G_BOTTOM, DR_LEGWEAR_PANTS}, {"slacks", G_BOTTOM, DR_LEGWEAR_PANTS},
    {"chinos", G_BOTTOM, DR_LEGWEAR_PANTS},  {"skirt", G_BOTTOM, DR_LEGWEAR_SKIRT}, {"dress", G_DRESS, DR_SLEEVES_NONE},
    {"gown", G_DRESS, DR_SLEEVES_NONE},      {"sundress", G_DRESS, DR_SLEEVES_NONE}, {"shoes", G_SHOES, 0},
    {"sneakers", G_SHOES, 0},                {"trainers", G_SHOES, 0},              {"boots", G_SHOES, 0},
    {"sandals", G_SHOES, 0},                 {"heels", G_SHOES, 0},                 {"slippers", G_SHOES, 0},
};

typedef struct scene_word {
    const char *word;
    int scene;
} scene_word;

static const scene_word scene_words[] = {
    {"beach", DR_SCENE_BEACH},   {"sand", DR_SCENE_BEACH},      {"sea", DR_SCENE_BEACH},
    {"ocean", DR_SCENE_BEACH},   {"shore", DR_SCENE_BEACH},     {"seaside", DR_SCENE_BEACH},
    {"snow", DR_SCENE_SNOW},     {"snowy", DR_SCENE_SNOW},      {"winter", DR_SCENE_SNOW},
    {"ski", DR_SCENE_SNOW},      {"gym", DR_SCENE_GYM},         {"fitness", DR_SCENE_GYM},
    {"treadmill", DR_SCENE_GYM}, {"workout", DR_SCENE_GYM},     {"street", DR_SCENE_STREET},
    {"city", DR_SCENE_STREET},   {"road", DR_SCENE_STREET},     {"sidewalk", DR_SCENE_STREET},
    {"town", DR_SCENE_STREET},   {"urban", DR_SCENE_STREET},    {"alley", DR_SCENE_STREET},
    {"downtown", DR_SCENE_STREET}, {"room", DR_SCENE_ROOM},     {"indoors", DR_SCENE_ROOM},
    {"indoor", DR_SCENE_ROOM},   {"bedroom", DR_SCENE_ROOM},    {"kitchen", DR_SCENE_ROOM},
    {"house", DR_SCENE_ROOM},    {"home", DR_SCENE_ROOM},       {"office", DR_SCENE_ROOM},
    {"hallway", DR_SCENE_ROOM},  {"apartment", DR_SCENE_ROOM},  {"studio", DR_SCENE_STUDIO},
    {"stage", DR_SCENE_STUDIO},  {"park", DR_SCENE_PARK},       {"garden", DR_SCENE_PARK},
    {"forest", DR_SCENE_FOREST}, {"woods", DR_SCENE_FOREST},    {"jungle", DR_SCENE_FOREST},
    {"field", DR_SCENE_FIELD},   {"grass", DR_SCENE_FIELD},     {"grassy", DR_SCENE_FIELD},
    {"meadow", DR_SCENE_FIELD},  {"lawn", DR_SCENE_FIELD},      {"countryside", DR_SCENE_FIELD},
    {"track", DR_SCENE_FIELD},   {"farmland", DR_SCENE_FIELD},  {"backyard", DR_SCENE_PARK},
    {"playground", DR_SCENE_PARK}, {"trail", DR_SCENE_FOREST},  {"mountain", DR_SCENE_FOREST},
    {"stairs", DR_SCENE_ROOM},   {"stairwell", DR_SCENE_ROOM},  {"staircase", DR_SCENE_ROOM},
    {"cafe", DR_SCENE_ROOM},     {"ring", DR_SCENE_GYM},        {"ballroom", DR_SCENE_STUDIO},
};

static const char *const scene_names[DR_NUM_SCENES] = {"studio", "field", "park",  "beach", "room",
                                                       "street", "gym",   "snow", "forest"};

const char *dr_scene_name(int scene) { return scene >= 0 && scene < DR_NUM_SCENES ? scene_names[scene] : "unknown"; }

/* The prompt as lower-case ASCII words; punctuation becomes a "," word so that colour
 * look-backs stop at clause ends. Non-ASCII bytes separate words. */
#define MAX_WORDS 4096
typedef struct words {
    char w[MAX_WORDS][20];
    int n;
} words;

static void split_words(const char *s, words *out) {
    out->n = 0;
    while (*s && out->n < MAX_WORDS) {
        unsigned char c = (unsigned char)*s;
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
            int k = 0;
            while (((unsigned char)*s | 0x20) >= 'a' && ((unsigned char)*s | 0x20) <= 'z') {
                if (k < 19) out->w[out->n][k++] = (char)(*s | 0x20);
                s++;
            }
            out->w[out->n++][k] = 0;
        } else {
            if (c == ',' || c == '.' || c == ';' || c == ':' || c == '!' || c == '?')
                if (out->n == 0 || strcmp(out->w[out->n - 1], ",")) strcpy(out->w[out->n++], ",");
            s++;
        }
    }
}

static int find_color(const named_color *table, int n, const char *w) {
    for (int i = 0; i < n; i++)
        if (!strcmp(table[i].word, w)) return i;
    return -1;
}

static bool is_clause_break(const char *w) {
    return !strcmp(w, ",") || !strcmp(w, "and") || !strcmp(w, "with") || !strcmp(w, "wears") ||
           !strcmp(w, "wearing") || !strcmp(w, "in") || !strcmp(w, "has") || !strcmp(w, "or");
}

/* The colour named in the few words before words[at] ("dark blue", "light grey"), from
 * `table`. Returns false when none is named within the clause. */
static bool color_before(const words *ws, int at, const named_color *table, int n, dr_rgb *out) {
    for (int i = at - 1; i >= 0 && i >= at - 5; i--) {
        if (is_clause_break(ws->w[i])) return false;
        int c = find_color(table, n, ws->w[i]);
        if (c < 0) continue;
        dr_rgb col = dr_rgb_make(table[c].r, table[c].g, table[c].b);
        if (i > 0 && (!strcmp(ws->w[i - 1], "dark") || !strcmp(ws->w[i - 1], "deep"))) col = dr_rgb_scale(col, 0.6f);
        if (i > 0 && (!strcmp(ws->w[i - 1], "light") || !strcmp(ws->w[i - 1], "pale") || !strcmp(ws->w[i - 1], "pastel")))
            col = dr_rgb_mix(col, dr_rgb_make(250, 250, 250), 0.45f);
        if (i > 0 && !strcmp(ws->w[i - 1], "bright")) col = dr_rgb_mix(col, dr_rgb_make(255, 255, 255), 0.15f);
        *out = col;
        return true;
    }
    return false;
}

static bool word_before(const words *ws, int at, const char *w, int span) {
    for (int i = at - 1; i >= 0 && i >= at - span; i--) {
        if (!strcmp(ws->w[i], ",")) return false;
        if (!strcmp(ws->w[i], w)) return true;
    }
    return false;
}

static bool has_word(const words *ws, const char *const *list, int n) {
    for (int i = 0; i < ws->n; i++)
        for (int k = 0; k < n; k++)
            if (!strcmp(ws->w[i], list[k])) return true;
    return false;
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; s && *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

void dr_preview_style_from_prompt(dr_preview_style *style, const char *prompt) {
    memset(style, 0, sizeof *style);
    dr_appearance *a = &style->look;
    /* Defaults: a fixed palette, the top colour picked by a hash of the prompt so different
     * prompts without colours still look different, and the same prompt always the same. */
    static const uint8_t default_tops[][3] = {{70, 110, 170}, {180, 60, 60}, {60, 140, 100}, {220, 160, 50},
                                              {120, 80, 150}, {90, 90, 100}};
    uint64_t h = fnv1a(prompt);
    const uint8_t *t = default_tops[h % 6];
    a->skin = dr_rgb_make(225, 175, 140);
    a->hair = dr_rgb_make(60, 40, 28);
    a->top = dr_rgb_make(t[0], t[1], t[2]);
    a->bottom = dr_rgb_make(55, 58, 70);
    a->shoes = dr_rgb_make(45, 45, 50);
    a->sleeves = DR_SLEEVES_SHORT;
    a->legwear = DR_LEGWEAR_PANTS;
    a->hair_style = DR_HAIR_SHORT;
    a->headwear_color = dr_rgb_make(40, 50, 90);
    style->scene = DR_SCENE_STUDIO;
    if (!prompt || !*prompt) return;

    words *ws = malloc(sizeof *ws);
    if (!ws) return; /* defaults; this path only runs out of memory */
    split_words(prompt, ws);

    static const char *const feminine[] = {"woman", "girl", "she", "her", "lady", "female", "ballerina", "women"};
    if (has_word(ws, feminine, 8)) a->hair_style = DR_HAIR_LONG;

    int scene_at = ws->n;
    bool barefoot = false;
    for (int i = 0; i < ws->n; i++) {
        const char *w = ws->w[i];
        /* Scene: the earliest place word wins. */
        for (size_t k = 0; k < sizeof scene_words / sizeof scene_words[0] && i < scene_at; k++)
            if (!strcmp(w, scene_words[k].word)) {
                style->scene = scene_words[k].scene;
                style->named_scene = true;
                scene_at = i;
            }
        /* Garments and their colours. */
        for (size_t k = 0; k < sizeof garments / sizeof garments[0]; k++) {
            if (strcmp(w, garments[k].word)) continue;
            /* "tank top", "crop top": the second word is the same garment. */
            if (!strcmp(w, "top") && i > 0 && (!strcmp(ws->w[i - 1], "tank") || !strcmp(ws->w[i - 1], "crop"))) {
                a->sleeves = DR_SLEEVES_NONE;
                dr_rgb c;
                if (color_before(ws, i - 1, colors, (int)(sizeof colors / sizeof colors[0]), &c)) a->top = c, a->named_top = true;
                break;
            }
            dr_rgb c;
            bool colored = color_before(ws, i, colors, (int)(sizeof colors / sizeof colors[0]), &c);
            if (!colored && !strcmp(w, "jeans")) c = dr_rgb_make(60, 90, 140), colored = true;
            switch (garments[k].kind) {
            case G_TOP:
                a->sleeves = garments[k].detail;
                if (word_before(ws, i, "sleeveless", 3)) a->sleeves = DR_SLEEVES_NONE;
                if (word_before(ws, i, "long", 3) || word_before(ws, i, "sleeved", 2)) a->sleeves = DR_SLEEVES_LONG;
                if (colored) a->top = c, a->named_top = true;
                if (!strcmp(w, "tracksuit") || !strcmp(w, "suit") || !strcmp(w, "uniform")) {
                    a->legwear = DR_LEGWEAR_PANTS;
                    if (colored) a->bottom = c, a->named_bottom = true;
                }
                break;
            case G_BOTTOM:
                a->legwear = garments[k].detail;
                if (colored) a->bottom = c, a->named_bottom = true;
                break;
            case G_DRESS:
                a->legwear = DR_LEGWEAR_SKIRT;
                a->sleeves = garments[k].detail;
                if (word_before(ws, i, "long", 3) && !strcmp(w, "kimono")) a->sleeves = DR_SLEEVES_LONG;
                if (colored) a->top = a->bottom = c, a->named_top = a->named_bottom = true;
                break;
            case G_SHOES:
                if (colored) a->shoes = c, a->named_shoes = true;
                break;
            }
        }
        /* Sleeves named separately: "long sleeves", "short-sleeved". */
        if ((!strcmp(w, "sleeves") || !strcmp(w, "sleeve") || !strcmp(w, "sleeved")) && i > 0) {
            if (!strcmp(ws->w[i - 1], "long")) a->sleeves = DR_SLEEVES_LONG;
            if (!strcmp(ws->w[i - 1], "short")) a->sleeves = DR_SLEEVES_SHORT;
        }
        if (!strcmp(w, "sleeveless")) a->sleeves = DR_SLEEVES_NONE;
        if (!strcmp(w, "barefoot")) barefoot = true;
        /* Hair. */
        if (!strcmp(w, "hair") || !strcmp(w, "haired")) {
            dr_rgb c;
            if (color_before(ws, i, hair_colors, (int)(sizeof hair_colors / sizeof hair_colors[0]), &c))
                a->hair = c, a->named_hair = true;
            if (word_before(ws, i, "long", 4) || word_before(ws, i, "length", 4) || word_before(ws, i, "braided", 4))
                a->hair_style = DR_HAIR_LONG;
            if (word_before(ws, i, "short", 4) || word_before(ws, i, "cropped", 4)) a->hair_style = DR_HAIR_SHORT;
        }
        if (!strcmp(w, "ponytail") || !strcmp(w, "bun")) {
            a->hair_style = DR_HAIR_PONYTAIL;
            dr_rgb c;
            if (color_before(ws, i, hair_colors, (int)(sizeof hair_colors / sizeof hair_colors[0]), &c))
                a->hair = c, a->named_hair = true;
        }
        if (!strcmp(w, "bald") || (!strcmp(w, "head") && word_before(ws, i, "shaved", 2)))
            a->hair_style = DR_HAIR_BALD, a->named_hair = true;
        /* Headwear and sunglasses. */
        int hw = !strcmp(w, "cap") || !strcmp(w, "hat") ? DR_HEADWEAR_CAP
                 : !strcmp(w, "beanie")                   ? DR_HEADWEAR_BEANIE
                 : !strcmp(w, "helmet")                   ? DR_HEADWEAR_HELMET
                                                          : DR_HEADWEAR_NONE;
        if (hw) {
            a->headwear = hw;
            dr_rgb c;
            if (color_before(ws, i, colors, (int)(sizeof colors / sizeof colors[0]), &c)) a->headwear_color = c;
        }
        if (!strcmp(w, "sunglasses")) a->sunglasses = true;
        if (!strcmp(w, "beard") || !strcmp(w, "stubble") || !strcmp(w, "goatee")) a->beard = true;
        if (!strcmp(w, "mustache") || !strcmp(w, "moustache")) a->mustache = true;
        if (!strcmp(w, "blonde") || !strcmp(w, "blond")) {
            if (!a->named_hair) a->hair = dr_rgb_make(238, 205, 95), a->named_hair = true;
        }
        if (!strcmp(w, "brunette") && !a->named_hair) a->hair = dr_rgb_make(90, 55, 30), a->named_hair = true;
        if (!strcmp(w, "redhead") && !a->named_hair) a->hair = dr_rgb_make(170, 70, 30), a->named_hair = true;
        /* Skin: "fair skin", "dark-skinned", "olive complexion". */
        if (!strcmp(w, "skin") || !strcmp(w, "skinned") || !strcmp(w, "complexion")) {
            for (int j = i - 1; j >= 0 && j >= i - 3 && strcmp(ws->w[j], ","); j--) {
                bool found = false;
                for (size_t k = 0; k < sizeof skin_tones / sizeof skin_tones[0]; k++)
                    if (!strcmp(ws->w[j], skin_tones[k].word)) {
                        a->skin = dr_rgb_make(skin_tones[k].r, skin_tones[k].g, skin_tones[k].b);
                        a->named_skin = found = true;
                        break;
                    }
                if (found) break;
            }
        }
    }
    if (!a->named_shoes && a->legwear == DR_LEGWEAR_SKIRT) a->shoes = dr_rgb_scale(a->bottom, 0.5f);
    if (barefoot) a->shoes = a->skin, a->named_shoes = true; /* after the skin tone is known */
    free(ws);
}

/* ------------------------------------------------------------------------------------
 * Scenes.
 * ------------------------------------------------------------------------------------ */

struct dr_preview {
    dr_preview_style style;
    int width, height;
    float scale, off_x, off_y; /* pose canvas -> image */
    float body;                /* torso length in image pixels (median over the clip) */
    float *frame_body;         /* per frame: the median over a one-second window */
    int num_frames, canvas_w, canvas_h; /* the sequence it was made for */
    int horizon;
    dr_image background;
};

static dr_rgb rgb(float r, float g, float b) { return dr_rgb_make(r, g, b); }

static void draw_tree(dr_image *img, float x, float ground, float size, dr_rgb leaves) {
    dr_raster_rect(img, x - size * 0.08f, ground - size * 0.9f, x + size * 0.08f, ground, rgb(100, 70, 45), 1);
    dr_paint p = dr_paint_solid(leaves, DR_SHADE_SPHERE, 0);
    dr_raster_ellipse(img, (dr_vec2){x, ground - size * 1.05f}, size * 0.5f, size * 0.55f, 0, &p);
    dr_raster_ellipse(img, (dr_vec2){x - size * 0.28f, ground - size * 0.8f}, size * 0.35f, size * 0.32f, 0, &p);
    dr_raster_ellipse(img, (dr_vec2){x + size * 0.3f, ground - size * 0.82f}, size * 0.36f, size * 0.33f, 0, &p);
}

static void draw_pine(dr_image *img, float x, float ground, float size, dr_rgb color) {
    dr_raster_rect(img, x - size * 0.05f, ground - size * 0.25f, x + size * 0.05f, ground, rgb(90, 65, 45), 1);
    dr_paint p = dr_paint_solid(color, DR_SHADE_FLAT, 0);
    for (int k = 0; k < 3; k++) {
        float top = ground - size * (1.1f - 0.28f * (float)k), base = ground - size * (0.2f + 0.25f * (2 - k) * 0.5f);
        float w = size * (0.28f + 0.1f * (float)k);
        dr_vec2 tri[3] = {{x, top}, {x + w, base}, {x - w, base}};
        dr_raster_polygon(img, tri, 3, 0, (dr_vec2){x, top}, (dr_vec2){x, base}, &p);
    }
}

static void draw_background(dr_preview *pv) {
    dr_image *img = &pv->background;
    int W = img->width, H = img->height, hz = pv->horizon;
    float s = (float)H / 320.0f; /* scene detail scales with the image */
    dr_rng rng;
    dr_rng_seed(&rng, 1234u + (uint64_t)pv->style.scene); /* fixed: the same scene looks the same */
    switch (pv->style.scene) {
    case DR_SCENE_FIELD:
    case DR_SCENE_PARK:
    case DR_SCENE_FOREST: {
        dr_raster_vgradient(img, 0, hz, rgb(110, 165, 230), rgb(200, 225, 245));
        /* distant hills */
        dr_paint hill = dr_paint_solid(rgb(120, 165, 100), DR_SHADE_FLAT, 0);
        for (int k = 0; k < 4; k++)
            dr_raster_ellipse(img, (dr_vec2){W * (0.1f + 0.3f * k), (float)hz + 6 * s}, W * 0.28f, 30 * s, 0, &hill);
        dr_raster_vgradient(img, hz, H, rgb(120, 180, 80), rgb(70, 130, 45));
        if (pv->style.scene == DR_SCENE_FOREST)
            for (int k = 0; k < 9; k++) {
                float x = W * (0.04f + 0.115f * k) + dr_rng_range(&rng, -8, 8) * s;
                draw_pine(img, x, hz + dr_rng_range(&rng, 0, 14) * s, dr_rng_range(&rng, 70, 110) * s,
                          rgb(40, dr_rng_range(&rng, 85, 110), 50));
            }
        /* grass blades */
        for (int k = 0; k < W * (H - hz) / 60; k++) {
            float x = dr_rng_range(&rng, 0, (float)W), y = dr_rng_range(&rng, (float)hz + 4, (float)H);
            float len = (2 + 5 * (y - hz) / (H - hz + 1)) * s;
            dr_paint blade = dr_paint_solid(rgb(55, 110, 35), DR_SHADE_FLAT, 0);
            blade.opacity = 0.5f;
            dr_raster_capsule(img, (dr_vec2){x, y}, (dr_vec2){x + dr_rng_range(&rng, -2, 2), y - len}, 0.6f, 0.4f, &blade);
        }
        if (pv->style.scene == DR_SCENE_PARK) {
            draw_tree(img, W * 0.12f, hz + 8 * s, 70 * s, rgb(60, 130, 60));
            draw_tree(img, W * 0.86f, hz + 4 * s, 60 * s, rgb(70, 140, 60));
            draw_tree(img, W * 0.68f, hz + 2 * s, 40 * s, rgb(80, 145, 70));
            /* a gravel path */
            dr_vec2 path[4] = {{W * 0.42f, (float)hz}, {W * 0.5f, (float)hz}, {W * 0.75f, (float)H}, {W * 0.25f, (float)H}};
            dr_paint gravel = dr_paint_solid(rgb(200, 185, 150), DR_SHADE_FLAT, 0);
            dr_raster_polygon(img, path, 4, 0, path[0], path[3], &gravel);
        }
        break;
    }
    case DR_SCENE_BEACH: {
        dr_raster_vgradient(img, 0, hz, rgb(90, 160, 230), rgb(190, 225, 245));
        int sea_end = hz + (int)(30 * s);
        dr_raster_vgradient(img, hz, sea_end, rgb(40, 110, 170), rgb(70, 160, 200));
        dr_raster_vgradient(img, sea_end, H, rgb(235, 215, 165), rgb(215, 190, 135));
        dr_raster_rect(img, 0, (float)sea_end - 2 * s, (float)W, (float)sea_end + 2 * s, rgb(245, 250, 250), 0.85f);
        dr_paint sun = dr_paint_solid(rgb(255, 240, 180), DR_SHADE_FLAT, 0);
        dr_raster_ellipse(img, (dr_vec2){W * 0.82f, hz * 0.3f}, 22 * s, 22 * s, 0, &sun);
        break;
    }
    case DR_SCENE_SNOW: {
        dr_raster_vgradient(img, 0, hz, rgb(170, 190, 215), rgb(225, 232, 242));
        dr_paint hill = dr_paint_solid(rgb(235, 240, 248), DR_SHADE_FLAT, 0);
        for (int k = 0; k < 3; k++)
            dr_raster_ellipse(img, (dr_vec2){W * (0.15f + 0.38f * k), (float)hz + 10 * s}, W * 0.3f, 40 * s, 0, &hill);
        dr_raster_vgradient(img, hz, H, rgb(245, 248, 252), rgb(215, 225, 240));
        for (int k = 0; k < 5; k++)
            draw_pine(img, W * (0.06f + 0.22f * k), hz + 6 * s, dr_rng_range(&rng, 50, 75) * s, rgb(40, 80, 60));
        break;
    }
    case DR_SCENE_ROOM: {
        dr_raster_vgradient(img, 0, hz, rgb(230, 220, 200), rgb(215, 200, 178));
        /* a window with sky, and a picture */
        dr_raster_rect(img, W * 0.08f, H * 0.12f, W * 0.3f, H * 0.45f, rgb(250, 250, 245), 1);
        dr_raster_rect(img, W * 0.09f, H * 0.135f, W * 0.29f, H * 0.435f, rgb(150, 195, 235), 1);
        dr_raster_rect(img, W * 0.188f, H * 0.135f, W * 0.192f, H * 0.435f, rgb(250, 250, 245), 1);
        dr_raster_rect(img, W * 0.74f, H * 0.15f, W * 0.9f, H * 0.35f, rgb(120, 85, 55), 1);
        dr_raster_rect(img, W * 0.75f, H * 0.165f, W * 0.89f, H * 0.335f, rgb(110, 150, 120), 1);
        dr_raster_vgradient(img, hz, H, rgb(170, 125, 85), rgb(140, 98, 62));
        for (int k = 1; k < 8; k++) { /* floor boards, converging a little */
            float y = hz + (H - hz) * (float)(k * k) / 64.0f;
            dr_raster_rect(img, 0, y, (float)W, y + 1.0f * s, rgb(110, 75, 45), 0.6f);
        }
        dr_raster_rect(img, 0, (float)hz - 5 * s, (float)W, (float)hz, rgb(245, 240, 230), 1); /* baseboard */
        break;
    }
    case DR_SCENE_STREET: {
        dr_raster_vgradient(img, 0, hz, rgb(150, 185, 225), rgb(215, 225, 235));
        float x = -10 * s;
        while (x < W) {
            float bw = dr_rng_range(&rng, 50, 95) * s, bh = dr_rng_range(&rng, 70, 160) * s;
            float shade = dr_rng_range(&rng, 0.75f, 1.0f);
            dr_rgb wall = dr_rng_below(&rng, 2) ? rgb(170 * shade, 110 * shade, 90 * shade) : rgb(150 * shade, 150 * shade, 160 * shade);
            dr_raster_rect(img, x, (float)hz - bh, x + bw - 3 * s, (float)hz, wall, 1);
            for (float wy = hz - bh + 10 * s; wy < hz - 22 * s; wy += 20 * s)
                for (float wx = x + 8 * s; wx < x + bw - 16 * s; wx += 16 * s)
                    dr_raster_rect(img, wx, wy, wx + 8 * s, wy + 11 * s, rgb(200, 220, 235), 0.9f);
            x += bw;
        }
        int curb = hz + (int)(12 * s);
        dr_raster_vgradient(img, hz, curb, rgb(90, 90, 95), rgb(80, 80, 85)); /* road */
        dr_raster_vgradient(img, curb, H, rgb(185, 182, 175), rgb(160, 158, 152)); /* sidewalk */
        dr_raster_rect(img, 0, (float)curb, (float)W, (float)curb + 2 * s, rgb(120, 120, 120), 1);
        for (int k = 0; k < 12; k++) { /* paving joints */
            float jx = W * k / 11.0f;
            dr_raster_rect(img, jx, (float)curb, jx + 1 * s, (float)H, rgb(140, 138, 132), 0.7f);
        }
        break;
    }
    case DR_SCENE_GYM: {
        dr_raster_vgradient(img, 0, hz, rgb(205, 210, 215), rgb(185, 190, 196));
        dr_raster_rect(img, 0, H * 0.25f, (float)W, H * 0.29f, rgb(200, 60, 50), 1); /* wall stripe */
        dr_raster_rect(img, W * 0.55f, H * 0.08f, W * 0.95f, H * 0.22f, rgb(225, 235, 240), 1); /* mirror */
        dr_raster_vgradient(img, hz, H, rgb(70, 72, 78), rgb(50, 52, 58));
        dr_raster_rect(img, W * 0.05f, hz + 20 * s, W * 0.3f, hz + 40 * s, rgb(40, 90, 160), 1); /* mat */
        /* a dumbbell rack */
        dr_raster_rect(img, W * 0.72f, hz - 40 * s, W * 0.95f, (float)hz, rgb(60, 60, 65), 1);
        for (int k = 0; k < 5; k++) {
            dr_paint bell = dr_paint_solid(rgb(30, 30, 32), DR_SHADE_SPHERE, 0);
            float bx = W * 0.74f + k * 12 * s;
            dr_raster_ellipse(img, (dr_vec2){bx, hz - 30 * s}, 5 * s, 5 * s, 0, &bell);
        }
        break;
    }
    case DR_SCENE_STUDIO:
    default: {
        dr_raster_vgradient(img, 0, hz, rgb(232, 232, 236), rgb(215, 215, 220));
        dr_raster_vgradient(img, hz, H, rgb(205, 205, 210), rgb(180, 180, 186));
        break;
    }
    }
}

/* ------------------------------------------------------------------------------------
 * The figure.
 * ------------------------------------------------------------------------------------ */

typedef struct body {
    dr_vec2 p[DR_NUM_KEYPOINTS];
    bool ok[DR_NUM_KEYPOINTS];
} body;

static dr_vec2 v_add(dr_vec2 a, dr_vec2 b) { return (dr_vec2){a.x + b.x, a.y + b.y}; }
static dr_vec2 v_sub(dr_vec2 a, dr_vec2 b) { return (dr_vec2){a.x - b.x, a.y - b.y}; }
static dr_vec2 v_scale(dr_vec2 a, float k) { return (dr_vec2){a.x * k, a.y * k}; }
static dr_vec2 v_lerp(dr_vec2 a, dr_vec2 b, float t) { return (dr_vec2){a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t}; }
static float v_len(dr_vec2 a) { return sqrtf(a.x * a.x + a.y * a.y); }
static dr_vec2 v_norm(dr_vec2 a, dr_vec2 fallback) {
    float l = v_len(a);
    return l > 1e-4f ? v_scale(a, 1.0f / l) : fallback;
}

static bool finite_kp(const dr_keypoint *k) { return dr_keypoint_present(k) && isfinite(k->x) && isfinite(k->y); }

/* Torso length of one pose in canvas pixels, or 0 when it cannot be measured. */
static float torso_length(const dr_pose *pose) {
    const dr_keypoint *k = pose->kp;
    dr_vec2 top, hip;
    if (finite_kp(&k[DR_KP_NECK])) top = (dr_vec2){k[DR_KP_NECK].x, k[DR_KP_NECK].y};
    else if (finite_kp(&k[DR_KP_RSHOULDER]) && finite_kp(&k[DR_KP_LSHOULDER]))
        top = (dr_vec2){(k[DR_KP_RSHOULDER].x + k[DR_KP_LSHOULDER].x) / 2, (k[DR_KP_RSHOULDER].y + k[DR_KP_LSHOULDER].y) / 2};
    else return 0;
    int n = 0;
    hip = (dr_vec2){0, 0};
    if (finite_kp(&k[DR_KP_RHIP])) hip = v_add(hip, (dr_vec2){k[DR_KP_RHIP].x, k[DR_KP_RHIP].y}), n++;
    if (finite_kp(&k[DR_KP_LHIP])) hip = v_add(hip, (dr_vec2){k[DR_KP_LHIP].x, k[DR_KP_LHIP].y}), n++;
    if (!n) return 0;
    return v_len(v_sub(v_scale(hip, 1.0f / (float)n), top));
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int dr_preview_create(dr_preview **out, const dr_preview_style *style, const dr_pose_seq *seq, int width, int height,
                      dr_err *err) {
    *out = NULL;
    if (width < 16 || height < 16 || width > 8192 || height > 8192)
        return dr_err_set(err, DR_EINVAL, "preview size %dx%d is outside 16..8192", width, height);
    if (!seq || seq->num_frames < 0 || seq->width <= 0 || seq->height <= 0 || (seq->num_frames > 0 && !seq->frames))
        return dr_err_set(err, DR_EINVAL, "preview: invalid pose sequence");
    dr_preview *pv = calloc(1, sizeof *pv);
    if (!pv) return dr_err_set(err, DR_ENOMEM, "out of memory");
    if (style) pv->style = *style;
    else dr_preview_style_from_prompt(&pv->style, NULL); /* the defaults */
    if (pv->style.scene < 0 || pv->style.scene >= DR_NUM_SCENES) pv->style.scene = DR_SCENE_STUDIO;
    pv->width = width, pv->height = height;
    float sx = (float)width / (float)seq->width, sy = (float)height / (float)seq->height;
    pv->scale = sx < sy ? sx : sy;
    pv->off_x = ((float)width - (float)seq->width * pv->scale) / 2;
    pv->off_y = ((float)height - (float)seq->height * pv->scale) / 2;
    /* Body scale: the median torso length over the clip keeps limb thickness steady. */
    float *lengths = malloc(sizeof(float) * (size_t)(seq->num_frames + 1));
    if (!lengths) {
        free(pv);
        return dr_err_set(err, DR_ENOMEM, "out of memory");
    }
    pv->num_frames = seq->num_frames;
    pv->canvas_w = seq->width, pv->canvas_h = seq->height;
    pv->frame_body = malloc(sizeof(float) * (size_t)(seq->num_frames + 1));
    if (!pv->frame_body) {
        free(lengths), free(pv);
        return dr_err_set(err, DR_ENOMEM, "out of memory");
    }
    int n = 0;
    for (int f = 0; f < seq->num_frames; f++) {
        float l = torso_length(&seq->frames[f]);
        pv->frame_body[f] = l; /* raw for now */
        if (l > 0) lengths[n++] = l;
    }
    if (n) {
        qsort(lengths, (size_t)n, sizeof *lengths, cmp_float);
        pv->body = lengths[n / 2] * pv->scale;
    } else {
        pv->body = 0.28f * (float)height; /* nothing to measure: an average figure */
    }
    if (pv->body < 4) pv->body = 4;
    if (pv->body > (float)height) pv->body = (float)height;
    /* Per frame: the median torso length within +-15 frames, so a person walking towards the
     * camera grows while single-frame detection noise does not make limbs pulse. Frames with
     * nothing measurable nearby use the clip median. */
    float *raw = malloc(sizeof(float) * (size_t)(seq->num_frames + 1));
    if (!raw) {
        free(lengths), free(pv->frame_body), free(pv);
        return dr_err_set(err, DR_ENOMEM, "out of memory");
    }
    memcpy(raw, pv->frame_body, sizeof(float) * (size_t)seq->num_frames);
    for (int f = 0; f < seq->num_frames; f++) {
        int k = 0;
        for (int g = f - 15; g <= f + 15; g++)
            if (g >= 0 && g < seq->num_frames && raw[g] > 0) lengths[k++] = raw[g];
        float l = pv->body;
        if (k) {
            qsort(lengths, (size_t)k, sizeof *lengths, cmp_float);
            l = lengths[k / 2] * pv->scale;
        }
        pv->frame_body[f] = fminf(fmaxf(l, 0.5f * pv->body), 2.0f * pv->body);
    }
    free(raw);
    free(lengths);
    pv->horizon = (int)(height * (pv->style.scene == DR_SCENE_ROOM || pv->style.scene == DR_SCENE_GYM ? 0.6f : 0.52f));
    int rc = dr_image_alloc(&pv->background, width, height);
    if (rc) {
        free(pv->frame_body), free(pv);
        return dr_err_set(err, rc, "out of memory for a %dx%d preview", width, height);
    }
    draw_background(pv);
    *out = pv;
    return DR_OK;
}

void dr_preview_free(dr_preview *pv) {
    if (!pv) return;
    dr_image_free(&pv->background);
    free(pv->frame_body);
    free(pv);
}

/* Map a pose to image space and infer what can be inferred: the neck from the shoulders, a
 * missing hip from the other one. */
static bool usable_kp(const dr_keypoint *k) { return finite_kp(k) && fabsf(k->x) < 1e6f && fabsf(k->y) < 1e6f; }

/* Detectors drop keypoints for a frame or two; rather than let a forearm flicker out, take a
 * missing keypoint from the nearest frames within NEIGHBOUR_FRAMES that have it: linear
 * interpolation between one before and one after, or the nearest one when it is at most
 * two frames away on one side only. */
#define NEIGHBOUR_FRAMES 4
static bool keypoint_from_neighbours(const dr_pose_seq *seq, int frame, int k, dr_keypoint *out) {
    int before = -1, after = -1;
    for (int d = 1; d <= NEIGHBOUR_FRAMES && before < 0; d++)
        if (frame - d >= 0 && usable_kp(&seq->frames[frame - d].kp[k])) before = frame - d;
    for (int d = 1; d <= NEIGHBOUR_FRAMES && after < 0; d++)
        if (frame + d < seq->num_frames && usable_kp(&seq->frames[frame + d].kp[k])) after = frame + d;
    if (before >= 0 && after >= 0) {
        const dr_keypoint *a = &seq->frames[before].kp[k], *b = &seq->frames[after].kp[k];
        float t = (float)(frame - before) / (float)(after - before);
        *out = (dr_keypoint){a->x + (b->x - a->x) * t, a->y + (b->y - a->y) * t, 1};
        return true;
    }
    int near = before >= 0 && frame - before <= 2 ? before : after >= 0 && after - frame <= 2 ? after : -1;
    if (near < 0) return false;
    *out = seq->frames[near].kp[k];
    return true;
}

/* Map frame `frame` to image space and infer what can be inferred: keypoints from
 * neighbouring frames, the neck from the shoulders, a missing hip from the other one, a
 * missing elbow or knee halfway along its limb. */
static void pose_to_body(const dr_preview *pv, float L, const dr_pose_seq *seq, int frame, body *b) {
    const dr_pose *pose = &seq->frames[frame];
    for (int i = 0; i < DR_NUM_KEYPOINTS; i++) {
        dr_keypoint k = pose->kp[i];
        b->ok[i] = usable_kp(&k) || keypoint_from_neighbours(seq, frame, i, &k);
        b->p[i] = (dr_vec2){pv->off_x + k.x * pv->scale, pv->off_y + k.y * pv->scale};
    }
    if (!b->ok[DR_KP_NECK] && b->ok[DR_KP_RSHOULDER] && b->ok[DR_KP_LSHOULDER]) {
        b->p[DR_KP_NECK] = v_lerp(b->p[DR_KP_RSHOULDER], b->p[DR_KP_LSHOULDER], 0.5f);
        b->ok[DR_KP_NECK] = true;
    }
    if (b->ok[DR_KP_RHIP] != b->ok[DR_KP_LHIP]) {
        int have = b->ok[DR_KP_RHIP] ? DR_KP_RHIP : DR_KP_LHIP, miss = have == DR_KP_RHIP ? DR_KP_LHIP : DR_KP_RHIP;
        int sh_have = have == DR_KP_RHIP ? DR_KP_RSHOULDER : DR_KP_LSHOULDER;
        int sh_miss = have == DR_KP_RHIP ? DR_KP_LSHOULDER : DR_KP_RSHOULDER;
        dr_vec2 off = b->ok[sh_have] && b->ok[sh_miss] ? v_scale(v_sub(b->p[sh_miss], b->p[sh_have]), 0.8f)
                                                       : (dr_vec2){have == DR_KP_RHIP ? 0.3f * L : -0.3f * L, 0};
        b->p[miss] = v_add(b->p[have], off);
        b->ok[miss] = true;
    }
    static const uint8_t joints[4][3] = {{DR_KP_RSHOULDER, DR_KP_RELBOW, DR_KP_RWRIST},
                                         {DR_KP_LSHOULDER, DR_KP_LELBOW, DR_KP_LWRIST},
                                         {DR_KP_RHIP, DR_KP_RKNEE, DR_KP_RANKLE},
                                         {DR_KP_LHIP, DR_KP_LKNEE, DR_KP_LANKLE}};
    for (int j = 0; j < 4; j++)
        if (!b->ok[joints[j][1]] && b->ok[joints[j][0]] && b->ok[joints[j][2]]) {
            b->p[joints[j][1]] = v_lerp(b->p[joints[j][0]], b->p[joints[j][2]], 0.5f);
            b->ok[joints[j][1]] = true;
        }
}

typedef struct figure {
    const dr_preview *pv;
    dr_image *img;
    body b;
    float L, outline;
    dr_vec2 axis;    /* unit vector neck -> hips */
    dr_vec2 across;  /* unit vector across the body, from the right side to the left side */
    dr_vec2 neck, hip_mid;
    bool has_torso;
    int view;        /* 0 front, 1 back, 2 side */
    int facing;      /* +1 facing image right, -1 left (side and three-quarter views) */
    bool turned;     /* a front view turned part-way to one side (three-quarter view) */
} figure;

enum { VIEW_FRONT, VIEW_BACK, VIEW_SIDE };

static dr_paint paint_of(const figure *f, dr_rgb c, int shade) {
    dr_paint p = dr_paint_solid(c, shade, f->outline);
    return p;
}

/* A limb segment a -> b with radii, split at t: garment colour on [0, t], skin beyond. */
static void limb(figure *f, int ka, int kb, float ra, float rb, float garment_t, dr_rgb garment, dr_rgb skin) {
    if (!f->b.ok[ka] || !f->b.ok[kb]) return;
    dr_vec2 a = f->b.p[ka], b = f->b.p[kb];
    dr_paint ps = paint_of(f, skin, DR_SHADE_CYLINDER);
    if (garment_t < 1) dr_raster_capsule(f->img, a, b, ra, rb, &ps);
    if (garment_t > 0) {
        dr_paint pg = paint_of(f, garment, DR_SHADE_CYLINDER);
        dr_vec2 m = v_lerp(a, b, garment_t);
        float rm = ra + (rb - ra) * garment_t;
        /* Cloth sits a little proud of the skin. */
        dr_raster_capsule(f->img, a, m, ra * 1.12f, rm * 1.12f, &pg);
    }
}

static void draw_arm(figure *f, int side /* 0 right, 1 left */) {
    const dr_appearance *a = &f->pv->style.look;
    int sh = side ? DR_KP_LSHOULDER : DR_KP_RSHOULDER, el = side ? DR_KP_LELBOW : DR_KP_RELBOW;
    int wr = side ? DR_KP_LWRIST : DR_KP_RWRIST;
    float L = f->L;
    float upper_t = a->sleeves == DR_SLEEVES_NONE ? 0 : a->sleeves == DR_SLEEVES_SHORT ? 0.5f : 1;
    limb(f, sh, el, 0.125f * L, 0.098f * L, upper_t, a->top, a->skin);
    limb(f, el, wr, 0.096f * L, 0.07f * L, a->sleeves == DR_SLEEVES_LONG ? 0.92f : 0, a->top, a->skin);
    if (f->b.ok[wr]) { /* the hand, continuing the forearm */
        dr_vec2 dir = f->b.ok[el] ? v_norm(v_sub(f->b.p[wr], f->b.p[el]), (dr_vec2){0, 1}) : (dr_vec2){0, 1};
        dr_vec2 c = v_add(f->b.p[wr], v_scale(dir, 0.08f * L));
        dr_paint p = paint_of(f, a->skin, DR_SHADE_SPHERE);
        dr_raster_ellipse(f->img, c, 0.09f * L, 0.065f * L, atan2f(dir.y, dir.x), &p);
    }
}

static void draw_leg(figure *f, int side) {
    const dr_appearance *a = &f->pv->style.look;
    int hp = side ? DR_KP_LHIP : DR_KP_RHIP, kn = side ? DR_KP_LKNEE : DR_KP_RKNEE, an = side ? DR_KP_LANKLE : DR_KP_RANKLE;
    float L = f->L;
    float thigh_t = a->legwear == DR_LEGWEAR_PANTS ? 1 : a->legwear == DR_LEGWEAR_SHORTS ? 0.55f : 0;
    float shin_t = a->legwear == DR_LEGWEAR_PANTS ? 0.95f : 0;
    limb(f, hp, kn, 0.185f * L, 0.135f * L, thigh_t, a->bottom, a->skin);
    limb(f, kn, an, 0.13f * L, 0.09f * L, shin_t, a->bottom, a->skin);
    if (f->b.ok[an]) { /* the shoe: forward in a side view, foreshortened facing the camera */
        dr_vec2 toe;
        if (f->view == VIEW_SIDE) toe = (dr_vec2){(float)f->facing * 0.2f * L, 0.03f * L};
        else toe = (dr_vec2){(side ? 0.05f : -0.05f) * L * (f->view == VIEW_BACK ? -1 : 1), 0.07f * L};
        dr_vec2 heel = v_add(f->b.p[an], (dr_vec2){-(float)(f->view == VIEW_SIDE ? f->facing : 0) * 0.03f * L, 0.04f * L});
        dr_paint p = paint_of(f, a->shoes, DR_SHADE_CYLINDER);
        dr_raster_capsule(f->img, heel, v_add(f->b.p[an], toe), 0.07f * L, 0.06f * L, &p);
    }
}

/* Corners of the torso between fractions t0 and t1 of the way from the shoulder line to the
 * hips (a rounded hexagon: shoulders, waist, hips). */
static int torso_polygon(const figure *f, float t0, float t1, dr_vec2 *pts) {
    const body *b = &f->b;
    float L = f->L;
    dr_vec2 sh_c = f->neck, hip_c = f->hip_mid;
    float sw = 0, hw = 0;
    if (b->ok[DR_KP_RSHOULDER] && b->ok[DR_KP_LSHOULDER]) {
        sw = fabsf((b->p[DR_KP_LSHOULDER].x - b->p[DR_KP_RSHOULDER].x) * f->across.x +
                   (b->p[DR_KP_LSHOULDER].y - b->p[DR_KP_RSHOULDER].y) * f->across.y) / 2;
        sh_c = v_lerp(b->p[DR_KP_RSHOULDER], b->p[DR_KP_LSHOULDER], 0.5f);
    }
    if (b->ok[DR_KP_RHIP] && b->ok[DR_KP_LHIP])
        hw = fabsf((b->p[DR_KP_LHIP].x - b->p[DR_KP_RHIP].x) * f->across.x +
                   (b->p[DR_KP_LHIP].y - b->p[DR_KP_RHIP].y) * f->across.y) / 2;
    /* Turned sideways the chest still has depth: never thinner than a side-on torso. */
    float shoulder_half = fmaxf(sw + 0.05f * L, 0.21f * L), hip_half = fmaxf(hw + 0.08f * L, 0.2f * L);
    float waist_half = fmaxf(0.85f * (0.55f * shoulder_half + 0.45f * hip_half), 0.19f * L);
    dr_vec2 hip_low = v_add(hip_c, v_scale(f->axis, 0.06f * L));
    /* Piecewise-linear outline along the axis: shoulder (0), waist (0.6), hip (1). */
    float ts[2] = {t0, t1};
    dr_vec2 centre[2];
    float half[2];
    for (int i = 0; i < 2; i++) {
        float t = ts[i];
        centre[i] = v_lerp(sh_c, hip_low, t);
        half[i] = t < 0.6f ? shoulder_half + (waist_half - shoulder_half) * (t / 0.6f)
                           : waist_half + (hip_half - waist_half) * ((t - 0.6f) / 0.4f);
    }
    int n = 0;
    pts[n++] = v_sub(centre[0], v_scale(f->across, half[0]));
    pts[n++] = v_add(centre[0], v_scale(f->across, half[0]));
    if (t0 < 0.6f && t1 > 0.6f) {
        dr_vec2 wc = v_lerp(sh_c, hip_low, 0.6f);
        pts[n++] = v_add(wc, v_scale(f->across, waist_half));
        pts[n++] = v_add(centre[1], v_scale(f->across, half[1]));
        pts[n++] = v_sub(centre[1], v_scale(f->across, half[1]));
        pts[n++] = v_sub(wc, v_scale(f->across, waist_half));
    } else {
        pts[n++] = v_add(centre[1], v_scale(f->across, half[1]));
        pts[n++] = v_sub(centre[1], v_scale(f->across, half[1]));
    }
    return n;
}

static void draw_torso(figure *f) {
    if (!f->has_torso) return;
    const dr_appearance *a = &f->pv->style.look;
    float L = f->L, belt = 0.8f;
    dr_vec2 pts[8];
    dr_paint bottom = paint_of(f, a->bottom, DR_SHADE_CYLINDER), top = paint_of(f, a->top, DR_SHADE_CYLINDER);
    int n = torso_polygon(f, belt - 0.05f, 1.0f, pts);
    dr_raster_polygon(f->img, pts, n, 0.05f * L, f->neck, f->hip_mid, &bottom);
    n = torso_polygon(f, 0.02f, belt, pts);
    dr_raster_polygon(f->img, pts, n, 0.06f * L, f->neck, f->hip_mid, &top);
    if (a->legwear == DR_LEGWEAR_SKIRT) { /* a flared skirt from the waist to the knees */
        const body *b = &f->b;
        dr_vec2 waist = v_lerp(f->neck, f->hip_mid, 0.75f);
        dr_vec2 knee = v_add(f->hip_mid, v_scale(f->axis, 0.85f * L));
        if (b->ok[DR_KP_RKNEE] && b->ok[DR_KP_LKNEE]) knee = v_lerp(b->p[DR_KP_RKNEE], b->p[DR_KP_LKNEE], 0.5f);
        float spread = 0.34f * L;
        if (b->ok[DR_KP_RKNEE] && b->ok[DR_KP_LKNEE])
            spread = fmaxf(spread, fabsf(b->p[DR_KP_LKNEE].x - b->p[DR_KP_RKNEE].x) / 2 + 0.14f * L);
        dr_vec2 down = v_norm(v_sub(knee, waist), f->axis), side = {-down.y, down.x};
        dr_vec2 sk[4] = {v_add(waist, v_scale(side, 0.19f * L)), v_sub(waist, v_scale(side, 0.19f * L)),
                         v_sub(knee, v_scale(side, spread)), v_add(knee, v_scale(side, spread))};
        dr_raster_polygon(f->img, sk, 4, 0.03f * L, waist, knee, &bottom);
    }
}

/* The head: centre and radius from whatever face keypoints exist. */
static bool head_geometry(const figure *f, dr_vec2 *centre, dr_vec2 *up) {
    const body *b = &f->b;
    float L = f->L;
    dr_vec2 up_axis = v_scale(f->axis, -1);
    int face[5] = {DR_KP_NOSE, DR_KP_REYE, DR_KP_LEYE, DR_KP_REAR, DR_KP_LEAR};
    float w[5] = {1, 0.5f, 0.5f, 1, 1};
    dr_vec2 sum = {0, 0};
    float total = 0;
    for (int i = 0; i < 5; i++)
        if (b->ok[face[i]]) sum = v_add(sum, v_scale(b->p[face[i]], w[i])), total += w[i];
    if (total > 0) {
        dr_vec2 c = v_scale(sum, 1 / total);
        if (b->ok[DR_KP_NECK]) {
            /* The head leans along neck -> face, and its centre sits a little above the face points. */
            dr_vec2 d = v_sub(c, b->p[DR_KP_NECK]);
            up_axis = v_norm(d, up_axis);
            if (v_len(d) > 0.9f * L) c = v_add(b->p[DR_KP_NECK], v_scale(up_axis, 0.9f * L)); /* outlier guard */
        }
        *centre = v_add(c, v_scale(up_axis, 0.01f * L));
    } else if (b->ok[DR_KP_NECK]) {
        *centre = v_add(b->p[DR_KP_NECK], v_scale(up_axis, 0.36f * L));
    } else {
        return false;
    }
    *up = up_axis;
    return true;
}

static void draw_long_hair_back(figure *f) {
    const dr_appearance *a = &f->pv->style.look;
    if (a->hair_style != DR_HAIR_LONG && a->hair_style != DR_HAIR_PONYTAIL) return;
    dr_vec2 c, up;
    if (!head_geometry(f, &c, &up)) return;
    float L = f->L;
    dr_paint p = paint_of(f, a->hair, DR_SHADE_CYLINDER);
    dr_vec2 back = f->view == VIEW_SIDE ? (dr_vec2){-(float)f->facing * 0.12f * L, 0} : (dr_vec2){0, 0};
    if (a->hair_style == DR_HAIR_LONG) { /* hangs down the body, whatever the head's tilt */
        dr_vec2 end = v_add(v_add(c, v_scale(f->axis, 0.55f * L)), back);
        dr_raster_capsule(f->img, v_add(c, back), end, 0.2f * L, 0.16f * L, &p);
    } else { /* tied at the back of the head, hanging down */
        dr_vec2 tie = v_add(v_add(c, v_scale(up, 0.04f * L)), v_scale(back, 1.3f));
        dr_vec2 end = v_add(tie, v_add(v_scale(up, -0.36f * L), v_scale(back, 0.5f)));
        dr_raster_capsule(f->img, tie, end, 0.08f * L, 0.045f * L, &p);
    }
}

/* The neck, drawn before the torso so the collar covers its base. */
static void draw_neck(figure *f) {
    const body *b = &f->b;
    dr_vec2 c, up;
    if (!b->ok[DR_KP_NECK] || !head_geometry(f, &c, &up)) return;
    float L = f->L;
    dr_paint neck = paint_of(f, f->pv->style.look.skin, DR_SHADE_CYLINDER);
    dr_raster_capsule(f->img, v_add(b->p[DR_KP_NECK], v_scale(up, -0.05f * L)), v_add(c, v_scale(up, -0.1f * L)),
                      0.085f * L, 0.075f * L, &neck);
}

static void draw_head(figure *f) {
    const dr_appearance *a = &f->pv->style.look;
    const body *b = &f->b;
    dr_vec2 c, up;
    if (!head_geometry(f, &c, &up)) return;
    float L = f->L, rx = 0.215f * L, ry = 0.265f * L;
    float angle = atan2f(-up.x, up.y); /* the ellipse's y axis along the head's up */
    dr_paint skin = paint_of(f, a->skin, DR_SHADE_SPHERE), hair = paint_of(f, a->hair, DR_SHADE_SPHERE);
    if (a->hair_style == DR_HAIR_BALD) {
        dr_raster_ellipse(f->img, c, rx, ry, angle, &skin);
    } else if (f->view == VIEW_BACK) {
        dr_raster_ellipse(f->img, c, rx * 1.04f, ry * 1.02f, angle, &hair);
    } else {
        /* Hair as a slightly larger head behind; the face is a smaller ellipse shifted down (and
         * forward when seen from the side), so hair shows on top and at the back. */
        dr_raster_ellipse(f->img, v_add(c, v_scale(up, 0.035f * L)), rx * 1.08f, ry * 1.05f, angle, &hair);
        dr_vec2 fwd = f->view == VIEW_SIDE ? (dr_vec2){(float)f->facing * 0.045f * L, 0} : (dr_vec2){0, 0};
        dr_vec2 fc = v_add(v_add(c, v_scale(up, -0.06f * L)), fwd);
        dr_paint face = skin;
        face.outline = 0; /* the hairline should not look like a seam */
        dr_raster_ellipse(f->img, fc, rx * (f->view == VIEW_SIDE ? 0.85f : 0.9f), ry * 0.83f, angle, &face);
        /* Eyes, or sunglasses over them. */
        dr_paint eye = dr_paint_solid(dr_rgb_make(35, 30, 30), DR_SHADE_FLAT, 0);
        float er = a->sunglasses ? 0.055f * L : 0.022f * L;
        for (int k = DR_KP_REYE; k <= DR_KP_LEYE; k++)
            if (b->ok[k]) dr_raster_ellipse(f->img, b->p[k], er, er * (a->sunglasses ? 0.8f : 1.25f), angle, &eye);
    }
    if (f->view != VIEW_BACK && (a->beard || a->mustache)) {
        /* Facial hair in the hair colour: a beard round the jaw, a moustache under the nose. */
        dr_vec2 fwd = f->view == VIEW_SIDE ? (dr_vec2){(float)f->facing * 0.06f * L, 0} : (dr_vec2){0, 0};
        dr_paint fh = paint_of(f, dr_rgb_scale(a->hair, 0.9f), DR_SHADE_SPHERE);
        fh.outline = 0;
        if (a->beard)
            dr_raster_ellipse(f->img, v_add(v_add(c, v_scale(up, -0.19f * L)), fwd), rx * 0.7f, ry * 0.32f, angle, &fh);
        if (a->mustache) {
            dr_vec2 m = b->ok[DR_KP_NOSE] ? v_add(b->p[DR_KP_NOSE], v_scale(up, -0.05f * L))
                                          : v_add(v_add(c, v_scale(up, -0.1f * L)), fwd);
            dr_raster_ellipse(f->img, m, 0.07f * L, 0.025f * L, angle, &fh);
        }
    }
    if (a->headwear != DR_HEADWEAR_NONE) {
        /* A dome over the top of the head; a cap adds a brim forward (sideways in a side view,
         * a band across the forehead facing the camera). */
        dr_paint hat = paint_of(f, a->headwear_color, DR_SHADE_SPHERE);
        float lift = a->headwear == DR_HEADWEAR_BEANIE ? 0.15f : 0.175f;
        dr_raster_ellipse(f->img, v_add(c, v_scale(up, lift * L)), rx * 1.1f, ry * 0.6f, angle, &hat);
        if (a->headwear == DR_HEADWEAR_CAP && f->view != VIEW_BACK) {
            dr_vec2 brim = v_add(c, v_scale(up, 0.045f * L));
            dr_vec2 side = {-up.y, up.x}; /* across the head, towards image right when upright */
            dr_paint flat = paint_of(f, dr_rgb_scale(a->headwear_color, 0.85f), DR_SHADE_CYLINDER);
            if (f->view == VIEW_SIDE)
                dr_raster_capsule(f->img, brim, v_add(brim, v_scale(side, (float)f->facing * 0.3f * L)), 0.035f * L,
                                  0.03f * L, &flat);
            else
                dr_raster_capsule(f->img, v_sub(brim, v_scale(side, 0.2f * L)), v_add(brim, v_scale(side, 0.2f * L)),
                                  0.03f * L, 0.03f * L, &flat);
        }
    }
}

/* Which way the body is turned, from the shoulders (and hips), and the nose. */
static void find_view(figure *f) {
    const body *b = &f->b;
    float L = f->L, s = 0;
    int n = 0;
    if (b->ok[DR_KP_RSHOULDER] && b->ok[DR_KP_LSHOULDER]) s += b->p[DR_KP_LSHOULDER].x - b->p[DR_KP_RSHOULDER].x, n++;
    if (b->ok[DR_KP_RHIP] && b->ok[DR_KP_LHIP]) s += b->p[DR_KP_LHIP].x - b->p[DR_KP_RHIP].x, n++;
    s = n ? s / (float)n : 0;
    /* Facing the camera, the person's right shoulder is on the image's left. */
    if (n && s > 0.22f * L) f->view = VIEW_FRONT;
    else if (n && s < -0.22f * L) f->view = VIEW_BACK;
    else f->view = VIEW_SIDE;
    /* Facing direction for a side view: where the nose points relative to the neck or ears. */
    float dir = 0;
    if (b->ok[DR_KP_NOSE]) {
        if (b->ok[DR_KP_REAR] || b->ok[DR_KP_LEAR]) {
            dr_vec2 ear = b->ok[DR_KP_REAR] && b->ok[DR_KP_LEAR] ? v_lerp(b->p[DR_KP_REAR], b->p[DR_KP_LEAR], 0.5f)
                                                                 : b->p[b->ok[DR_KP_REAR] ? DR_KP_REAR : DR_KP_LEAR];
            dir = b->p[DR_KP_NOSE].x - ear.x;
        } else if (b->ok[DR_KP_NECK]) {
            dir = b->p[DR_KP_NOSE].x - b->p[DR_KP_NECK].x;
        }
    } else if (b->ok[DR_KP_REAR] != b->ok[DR_KP_LEAR]) {
        /* Only one ear seen: the body shows that side to the camera. */
        dir = b->ok[DR_KP_REAR] ? 1 : -1;
    }
    f->facing = dir < 0 ? -1 : 1;
    /* Facing the camera but with the nose well off the shoulder midline: turned part-way. */
    if (f->view == VIEW_FRONT && b->ok[DR_KP_NOSE] && b->ok[DR_KP_NECK]) {
        float off = b->p[DR_KP_NOSE].x - b->p[DR_KP_NECK].x;
        f->turned = fabsf(off) > 0.12f * L;
        f->facing = off < 0 ? -1 : 1;
    }
}

static void draw_figure(const dr_preview *pv, const dr_pose_seq *seq, int frame, dr_image *img) {
    figure f = {.pv = pv, .img = img, .L = frame < pv->num_frames ? pv->frame_body[frame] : pv->body};
    pose_to_body(pv, f.L, seq, frame, &f.b);
    body *b = &f.b;
    float L = f.L;
    f.outline = fmaxf(0.9f, 0.018f * L);
    /* Torso frame. */
    int nh = 0;
    dr_vec2 hs = {0, 0};
    if (b->ok[DR_KP_RHIP]) hs = v_add(hs, b->p[DR_KP_RHIP]), nh++;
    if (b->ok[DR_KP_LHIP]) hs = v_add(hs, b->p[DR_KP_LHIP]), nh++;
    f.has_torso = b->ok[DR_KP_NECK] && nh > 0;
    f.neck = b->p[DR_KP_NECK];
    f.hip_mid = nh ? v_scale(hs, 1.0f / (float)nh) : v_add(f.neck, (dr_vec2){0, L});
    if (!b->ok[DR_KP_NECK] && nh) f.neck = v_add(f.hip_mid, (dr_vec2){0, -L});
    f.axis = v_norm(v_sub(f.hip_mid, f.neck), (dr_vec2){0, 1});
    f.across = (dr_vec2){f.axis.y, -f.axis.x}; /* axis rotated: points to image right when upright */
    find_view(&f);

    /* Contact shadow under the feet. */
    float foot_y = -1, foot_x = 0;
    int nf = 0;
    for (int k = DR_KP_RANKLE; k <= DR_KP_LANKLE; k += DR_KP_LANKLE - DR_KP_RANKLE)
        if (b->ok[k]) foot_y = fmaxf(foot_y, b->p[k].y), foot_x += b->p[k].x, nf++;
    if (nf) {
        dr_paint shadow = dr_paint_solid(dr_rgb_make(0, 0, 0), DR_SHADE_FLAT, 0);
        shadow.opacity = 0.22f;
        dr_raster_ellipse(img, (dr_vec2){foot_x / (float)nf, foot_y + 0.1f * L}, 0.55f * L, 0.085f * L, 0, &shadow);
    }

    /* Depth order. Facing the camera: legs, torso, arms in front. Facing away: arms behind the
     * torso. Side on: the far arm and leg behind the torso, the near ones in front. Turned to
     * the image right, the person's right side is the near side. */
    int near = f.facing > 0 ? 0 : 1, far = 1 - near;
    switch (f.view) {
    case VIEW_FRONT:
        /* Turned part-way (three-quarter view): the far arm goes behind the torso. */
        draw_long_hair_back(&f);
        if (f.turned) draw_arm(&f, far);
        draw_leg(&f, 0), draw_leg(&f, 1);
        draw_neck(&f);
        draw_torso(&f);
        if (f.turned) draw_arm(&f, near);
        else draw_arm(&f, 0), draw_arm(&f, 1);
        draw_head(&f);
        break;
    case VIEW_BACK:
        draw_arm(&f, 0), draw_arm(&f, 1);
        draw_leg(&f, 0), draw_leg(&f, 1);
        draw_neck(&f);
        draw_torso(&f);
        draw_long_hair_back(&f); /* over the back, under the head's hair (and hat) */
        draw_head(&f);
        break;
    default:
        /* Both legs go behind the torso: the hip joint sits inside the pelvis, and a skirt must
         * cover the thighs. */
        draw_arm(&f, far);
        draw_leg(&f, far);
        draw_leg(&f, near);
        draw_long_hair_back(&f);
        draw_neck(&f);
        draw_torso(&f);
        draw_head(&f);
        draw_arm(&f, near);
        break;
    }
}

static int check_seq(const dr_preview *pv, const dr_pose_seq *seq, dr_err *err) {
    if (seq->num_frames != pv->num_frames || seq->width != pv->canvas_w || seq->height != pv->canvas_h)
        return dr_err_set(err, DR_EINVAL, "preview: made for %d frames on %dx%d, given %d frames on %dx%d",
                          pv->num_frames, pv->canvas_w, pv->canvas_h, seq->num_frames, seq->width, seq->height);
    return DR_OK;
}

int dr_preview_render_frame(const dr_preview *pv, const dr_pose_seq *seq, int frame, dr_image *img, dr_err *err) {
    int rc = check_seq(pv, seq, err);
    if (rc) return rc;
    if (frame < 0 || frame >= seq->num_frames)
        return dr_err_set(err, DR_ERANGE, "preview: frame %d outside 0..%d", frame, seq->num_frames - 1);
    if (!img->rgb || img->width != pv->width || img->height != pv->height)
        return dr_err_set(err, DR_EINVAL, "preview: image is %dx%d, expected %dx%d", img->width, img->height, pv->width,
                          pv->height);
    memcpy(img->rgb, pv->background.rgb, (size_t)pv->width * (size_t)pv->height * 3u);
    draw_figure(pv, seq, frame, img);
    return DR_OK;
}

int dr_preview_render_all(const dr_preview *pv, const dr_pose_seq *seq, dr_image *frames, dr_err *err) {
    int rc = check_seq(pv, seq, err);
    if (rc) return rc;
    for (int i = 0; i < seq->num_frames; i++)
        if (!frames[i].rgb || frames[i].width != pv->width || frames[i].height != pv->height)
            return dr_err_set(err, DR_EINVAL, "preview: frame image %d is %dx%d, expected %dx%d", i, frames[i].width,
                              frames[i].height, pv->width, pv->height);
#pragma omp parallel for schedule(dynamic, 4)
    for (int i = 0; i < seq->num_frames; i++) {
        memcpy(frames[i].rgb, pv->background.rgb, (size_t)pv->width * (size_t)pv->height * 3u);
        draw_figure(pv, seq, i, &frames[i]);
    }
    return DR_OK;
}
