/* caption.c - captions in the style of the paper's video captioning model (appendix A1):
 *
 *   The video shows a woman running through a grassy field. The woman has fair skin and
 *   long brown hair pulled back into a ponytail. She is wearing a yellow tank top and black
 *   shorts. She is running towards the right side of the frame. The background is a bright
 *   sky and a grassy hill. ... The camera is static.
 *
 * The first sentence is the subject-level prompt (subject, action, speed word, place); the
 * rest adds appearance, a direction or facing sentence, background, an optional accessory
 * and restatement, and the camera. Each slot has several phrasings, and the sentences that
 * describe motion are chosen from the clip's real parameters (direction, speed, variant). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pose/synth/synth_internal.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define PICK(rng, a) ((a)[dr_rng_below((rng), (uint32_t)COUNT(a))])

/* ---- subjects ---- */
enum { SEX_M = 0, SEX_F = 1, SEX_ANY = 2 };
enum { KF_SPORT = 1, KF_DANCE = 2, KF_OLD = 4, KF_CHILD = 8 };

typedef struct kind {
    const char *name;  /* the subject_kind key, also the noun phrase after the article */
    const char *article;
    int sex;
    int flags;
    float weight;
} kind;

static const kind kinds[] = {
    {"man", "a", SEX_M, 0, 1.6f},
    {"woman", "a", SEX_F, 0, 1.6f},
    {"young man", "a", SEX_M, 0, 1.2f},
    {"young woman", "a", SEX_F, 0, 1.2f},
    {"middle-aged man", "a", SEX_M, 0, 0.7f},
    {"middle-aged woman", "a", SEX_F, 0, 0.7f},
    {"old man", "an", SEX_M, KF_OLD, 0.5f},
    {"old woman", "an", SEX_F, KF_OLD, 0.5f},
    {"boy", "a", SEX_M, KF_CHILD, 0.6f},
    {"girl", "a", SEX_F, KF_CHILD, 0.6f},
    {"athlete", "an", SEX_ANY, KF_SPORT, 0.8f},
    {"dancer", "a", SEX_ANY, KF_DANCE, 0.8f},
};

int caption_num_kinds(void) { return COUNT(kinds); }
const char *caption_kind_name(int k) { return kinds[k].name; }
bool caption_kind_child(int k) { return (kinds[k].flags & KF_CHILD) != 0; }
float caption_kind_age(int k) { return (kinds[k].flags & KF_OLD) ? 1.0f : 0.3f; }
int caption_find_kind(const char *name) {
    for (int i = 0; i < COUNT(kinds); i++)
        if (!strcmp(kinds[i].name, name)) return i;
    return -1;
}

static bool action_is_sport(int a) {
    switch (a) {
    case DR_ACT_RUNNING: case DR_ACT_JOGGING: case DR_ACT_CYCLING: case DR_ACT_SQUATS: case DR_ACT_LUNGES:
    case DR_ACT_JUMPING_JACKS: case DR_ACT_PUSH_UPS: case DR_ACT_JUMPING: case DR_ACT_SKIPPING_ROPE:
    case DR_ACT_STRETCHING: case DR_ACT_BOXING: case DR_ACT_HIKING: case DR_ACT_THROWING: return true;
    default: return false;
    }
}
static bool action_is_dance(int a) {
    return a == DR_ACT_DANCING || a == DR_ACT_YOGA || a == DR_ACT_STRETCHING || a == DR_ACT_POSING ||
           a == DR_ACT_JUMPING;
}
static bool action_too_hard_for_old(int a) {
    return a == DR_ACT_RUNNING || a == DR_ACT_JUMPING_JACKS || a == DR_ACT_SKIPPING_ROPE || a == DR_ACT_JUMPING ||
           a == DR_ACT_BOXING || a == DR_ACT_PUSH_UPS;
}

static bool kind_allowed(int k, int action) {
    int f = kinds[k].flags;
    if ((f & KF_SPORT) && !action_is_sport(action)) return false;
    if ((f & KF_DANCE) && !action_is_dance(action)) return false;
    if ((f & KF_OLD) && action_too_hard_for_old(action)) return false;
    return true;
}

int caption_sample_kind(dr_rng *rng, int action) {
    float total = 0;
    for (int k = 0; k < COUNT(kinds); k++)
        if (kind_allowed(k, action)) total += kinds[k].weight;
    float x = dr_rng_uniform(rng) * total;
    for (int k = 0; k < COUNT(kinds); k++) {
        if (!kind_allowed(k, action)) continue;
        x -= kinds[k].weight;
        if (x < 0) return k;
    }
    return 0;
}

bool caption_kind_female(int k) { return kinds[k].sex == SEX_F; }
int caption_kind_sex(int k) { return kinds[k].sex; }

/* ---- places ---- */
typedef struct place {
    const char *key;
    const char *at[3];      /* where something happens: "in a grassy field" */
    const char *through[3]; /* where someone travels: "through a grassy field" */
    const char *bg[4];      /* background descriptions */
} place;

static const place places[] = {
    {"field", {"in a grassy field", "in a green meadow", "in an open field"},
     {"through a grassy field", "across a green meadow", "through an open field"},
     {"a bright sky and a grassy hill", "green grass and a line of trees", "rolling hills under a blue sky",
      "tall grass and distant trees"}},
    {"beach", {"on a sandy beach", "on the beach", "by the sea"},
     {"along a sandy beach", "along the shore", "across the beach"},
     {"the ocean and a clear blue sky", "waves rolling onto the sand", "the sea and a few palm trees",
      "the sunset over the water"}},
    {"park", {"in a park", "in a city park", "in a sunny park"},
     {"through a park", "along a park path", "through a city park"},
     {"trees and a paved path", "green lawns and benches", "tall trees and a pond", "a playground and trees"}},
    {"street", {"on a city street", "on a sidewalk", "on a busy street"},
     {"down a city street", "along a sidewalk", "down a busy street"},
     {"buildings and parked cars", "shop windows and a crosswalk", "tall buildings and street lights",
      "a row of houses and trees"}},
    {"trail", {"on a mountain trail", "on a forest trail", "on a dirt path"},
     {"along a mountain trail", "up a forest trail", "along a rocky path"},
     {"pine trees and mountains in the distance", "a forest of tall trees", "rocky hills and a blue sky",
      "a valley and snowy peaks"}},
    {"track", {"on a running track", "at a stadium", "on an athletics track"},
     {"around a running track", "along an athletics track", "down the track of a stadium"},
     {"a stadium and a red track", "empty bleachers and a track", "the lanes of a red running track",
      "a sports field and floodlights"}},
    {"road", {"on a country road", "on a quiet road", "on a road"},
     {"along a country road", "down a quiet road", "along a road"},
     {"open fields and a long road", "farmland and a wide sky", "a winding road and hills",
      "trees lining the road"}},
    {"gym", {"in a gym", "in a fitness center", "in a workout room"},
     {"across a gym", "through a fitness center", "across a workout room"},
     {"exercise machines and mirrors", "weights and a rubber floor", "treadmills and large windows",
      "a mirrored wall and dumbbells"}},
    {"studio", {"in a studio", "in a bright studio", "in a room with a wooden floor"},
     {"across a studio", "across a bright studio", "across a wooden floor"},
     {"a white wall and a wooden floor", "large windows and a wooden floor", "a plain gray backdrop",
      "mirrors and soft light"}},
    {"living_room", {"in a living room", "at home", "in a cozy living room"},
     {"across a living room", "through a living room", "across the room"},
     {"a sofa, a lamp and bookshelves", "a cozy room with plants", "a television and a rug",
      "a window with curtains and a sofa"}},
    {"office", {"in an office", "in a modern office", "at work"},
     {"through an office", "across an office", "through a modern office"},
     {"desks and a large window", "a whiteboard and office chairs", "glass walls and desks",
      "shelves and a potted plant"}},
    {"stage", {"on a stage", "on a concert stage", "on a small stage"},
     {"across a stage", "across a concert stage", "across a small stage"},
     {"stage lights and a dark background", "colorful spotlights", "a dark hall and bright lights",
      "a curtain and warm lights"}},
    {"stairs", {"on a staircase", "in a stairwell", "on stone steps"},
     {"up a staircase", "up a flight of stairs", "up the stone steps"},
     {"a stairwell with railings", "stone steps outside a building", "a wooden staircase and a wall",
      "concrete steps and a handrail"}},
    {"backyard", {"in a backyard", "in a garden", "on a lawn"},
     {"across a backyard", "through a garden", "across a lawn"},
     {"a wooden fence and a lawn", "flower beds and a fence", "a garden and a house", "green grass and bushes"}},
    {"ring", {"in a boxing ring", "in a boxing gym", "in a ring"},
     {"around a boxing ring", "across a boxing gym", "around the ring"},
     {"ropes and bright lights", "punching bags and a dark wall", "a ring with red ropes", "a dim boxing gym"}},
    {"cafe", {"in a cafe", "at a coffee shop", "in a small cafe"},
     {"through a cafe", "through a coffee shop", "across a small cafe"},
     {"tables and a counter", "large windows and plants", "a coffee bar and shelves", "brick walls and warm lights"}},
};

const char *caption_place_key(int p) { return places[p].key; }
__attribute__((noinline)) int caption_find_place(const char *key) {
    for (int i = 0; i < COUNT(places); i++)
        if (!strcmp(places[i].key, key)) return i;
    return -1;
}

/* Places each action happens in (keys). */
static const char *const action_places[DR_SYNTH_NUM_ACTIONS][7] = {
    [DR_ACT_WALKING] = {"park", "street", "beach", "field", "road"},
    [DR_ACT_HIKING] = {"trail", "field", "road"},
    [DR_ACT_RUNNING] = {"field", "beach", "park", "track", "street", "road"},
    [DR_ACT_JOGGING] = {"park", "beach", "street", "track", "road"},
    [DR_ACT_CLIMBING_STAIRS] = {"stairs"},
    [DR_ACT_CYCLING] = {"road", "street", "park", "trail"},
    [DR_ACT_YOGA] = {"studio", "beach", "park", "living_room"},
    [DR_ACT_SQUATS] = {"gym", "park", "living_room", "backyard"},
    [DR_ACT_LUNGES] = {"gym", "park", "living_room", "backyard"},
    [DR_ACT_JUMPING_JACKS] = {"gym", "park", "living_room", "backyard"},
    [DR_ACT_PUSH_UPS] = {"gym", "park", "living_room", "backyard"},
    [DR_ACT_DANCING] = {"studio", "stage", "living_room", "street", "beach"},
    [DR_ACT_JUMPING] = {"field", "beach", "park", "backyard", "gym"},
    [DR_ACT_SKIPPING_ROPE] = {"gym", "park", "backyard", "street"},
    [DR_ACT_STANDING] = {"street", "park", "beach", "office", "field"},
    [DR_ACT_POSING] = {"studio", "street", "beach", "park"},
    [DR_ACT_SITTING] = {"living_room", "office", "cafe", "park"},
    [DR_ACT_WAVING] = {"beach", "park", "street", "field"},
    [DR_ACT_TALKING] = {"office", "living_room", "street", "park", "studio"},
    [DR_ACT_STRETCHING] = {"park", "gym", "field", "beach", "track"},
    [DR_ACT_BOXING] = {"gym", "ring", "backyard", "park"},
    [DR_ACT_TURNING_AROUND] = {"street", "park", "beach", "studio"},
    [DR_ACT_KNEELING] = {"field", "park", "beach", "living_room"},
    [DR_ACT_LYING_DOWN] = {"field", "beach", "park", "living_room", "studio"},
    [DR_ACT_GETTING_UP] = {"field", "beach", "park", "living_room", "studio"},
    [DR_ACT_THROWING] = {"park", "field", "beach", "backyard"},
    [DR_ACT_PLAYING_GUITAR] = {"stage", "living_room", "park", "studio", "street"},
};

int caption_sample_place(dr_rng *rng, int action, int variant) {
    if (action == DR_ACT_SITTING) {
        if (variant == VAR_SIT_COUCH) return caption_find_place("living_room");
        if (variant == VAR_SIT_BENCH) return caption_find_place(dr_rng_below(rng, 2) ? "park" : "street");
        static const char *const chair[] = {"office", "cafe", "living_room"};
        return caption_find_place(PICK(rng, chair));
    }
    int n = 0;
    while (n < 7 && action_places[action][n]) n++;
    return caption_find_place(action_places[action][dr_rng_below(rng, (uint32_t)n)]);
}

bool caption_combo_possible(int action, int place, int kind) {
    if (!kind_allowed(kind, action)) return false;
    for (int i = 0; i < 7 && action_places[action][i]; i++)
        if (!strcmp(action_places[action][i], places[place].key)) return true;
    return action == DR_ACT_SITTING &&
           (!strcmp(places[place].key, "park") || !strcmp(places[place].key, "street"));
}

/* ---- text assembly ---- */
typedef struct sbuf {
    char *p;
    size_t size, len;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->len + 1 >= b->size) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
    va_end(ap);
    if (n > 0) b->len = b->len + (size_t)n < b->size ? b->len + (size_t)n : b->size - 1;
}

typedef struct pron {
    const char *subj, *Subj, *obj, *poss;
} pron;

/* The verb phrase (present participle, with its object) for the action. */
static const char *action_phrase(dr_rng *rng, const caption_in *in, const pron *pr, char *buf, size_t size) {
    int a = in->action, sp = in->speed;
    const char *x;
    switch (a) {
    case DR_ACT_WALKING: {
        static const char *const slow[] = {"walking slowly", "strolling slowly", "walking at a slow pace", "slowly walking"};
        static const char *const nrm[] = {"walking", "walking", "taking a walk"};
        static const char *const fast[] = {"walking quickly", "walking briskly", "walking fast", "quickly walking"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_HIKING: {
        static const char *const slow[] = {"hiking slowly", "slowly hiking uphill"};
        static const char *const nrm[] = {"hiking", "hiking uphill", "hiking up a slope"};
        static const char *const fast[] = {"hiking quickly", "hiking briskly uphill"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_RUNNING: {
        static const char *const slow[] = {"running slowly", "running at a slow pace", "slowly running"};
        static const char *const nrm[] = {"running", "running", "out for a run, running"};
        static const char *const fast[] = {"running fast", "sprinting", "running quickly", "running at full speed"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_JOGGING: {
        static const char *const slow[] = {"jogging slowly", "jogging at a slow pace", "slowly jogging"};
        static const char *const nrm[] = {"jogging", "jogging", "going for a jog, jogging"};
        static const char *const fast[] = {"jogging quickly", "jogging at a fast pace", "jogging fast"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_CLIMBING_STAIRS: {
        static const char *const slow[] = {"climbing stairs slowly", "slowly walking up the stairs", "slowly climbing the stairs"};
        static const char *const nrm[] = {"climbing stairs", "walking up the stairs", "climbing a flight of stairs"};
        static const char *const fast[] = {"climbing stairs quickly", "hurrying up the stairs", "quickly climbing the stairs"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_CYCLING: {
        static const char *const slow[] = {"cycling slowly", "riding a bicycle slowly", "slowly riding a bike"};
        static const char *const nrm[] = {"cycling", "riding a bicycle", "riding a bike"};
        static const char *const fast[] = {"cycling fast", "riding a bicycle quickly", "cycling at high speed"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_YOGA: {
        static const char *const slow[] = {"slowly doing yoga", "doing a slow yoga flow", "practicing yoga slowly"};
        static const char *const nrm[] = {"doing yoga", "practicing yoga", "doing a yoga flow"};
        static const char *const fast[] = {"doing a fast yoga flow", "quickly moving through yoga poses", "doing yoga quickly"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_SQUATS: {
        static const char *const slow[] = {"doing slow squats", "slowly doing squats", "doing a workout of slow squats"};
        static const char *const nrm[] = {"doing squats", "doing a squat workout", "working out, doing squats"};
        static const char *const fast[] = {"doing fast squats", "quickly doing squats", "doing a fast squat workout"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_LUNGES: {
        static const char *const slow[] = {"doing slow lunges", "slowly doing lunges"};
        static const char *const nrm[] = {"doing lunges", "doing a lunge workout", "working out, doing lunges"};
        static const char *const fast[] = {"doing quick lunges", "quickly doing lunges"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_JUMPING_JACKS: {
        static const char *const slow[] = {"doing slow jumping jacks", "slowly doing jumping jacks"};
        static const char *const nrm[] = {"doing jumping jacks", "doing a jumping jacks workout", "working out, doing jumping jacks"};
        static const char *const fast[] = {"doing fast jumping jacks", "quickly doing jumping jacks"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_PUSH_UPS: {
        static const char *const slow[] = {"doing slow push-ups", "slowly doing push-ups"};
        static const char *const nrm[] = {"doing push-ups", "doing a push-up workout", "working out, doing push-ups"};
        static const char *const fast[] = {"doing fast push-ups", "quickly doing push-ups"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_DANCING: {
        /* "dance" itself too: the paper's keyword filter looks for it */
        static const char *const slow[] = {"dancing slowly", "slowly dancing", "dancing to slow music", "doing a slow dance"};
        static const char *const nrm[] = {"dancing", "dancing", "dancing to music", "performing a dance routine", "doing a dance"};
        static const char *const fast[] = {"dancing energetically", "dancing quickly", "dancing to fast music",
                                           "doing a fast dance"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_JUMPING: {
        if (in->variant == VAR_JUMP_FORWARD) {
            static const char *const v[3][2] = {{"slowly jumping forward", "doing slow broad jumps"},
                                                {"jumping forward", "doing broad jumps"},
                                                {"quickly jumping forward", "doing quick broad jumps"}};
            x = v[sp][dr_rng_below(rng, 2)];
        } else {
            static const char *const v[3][2] = {{"slowly jumping up and down", "jumping in place slowly"},
                                                {"jumping up and down", "jumping in place"},
                                                {"quickly jumping up and down", "jumping in place quickly"}};
            x = v[sp][dr_rng_below(rng, 2)];
        }
        break;
    }
    case DR_ACT_SKIPPING_ROPE: {
        static const char *const slow[] = {"skipping rope slowly", "jumping rope slowly"};
        static const char *const nrm[] = {"skipping rope", "jumping rope", "working out with a jump rope"};
        static const char *const fast[] = {"skipping rope quickly", "jumping rope fast"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_STANDING: {
        static const char *const v[] = {"standing", "standing still", "standing and looking around", "standing casually"};
        x = PICK(rng, v);
        break;
    }
    case DR_ACT_POSING: {
        static const char *const slow[] = {"slowly posing for the camera", "posing slowly"};
        static const char *const nrm[] = {"posing for the camera", "posing", "striking poses"};
        static const char *const fast[] = {"quickly changing poses", "posing quickly for the camera"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_SITTING: {
        if (in->variant == VAR_SIT_COUCH) {
            static const char *const v[] = {"sitting on a couch", "sitting on a sofa", "relaxing on a couch"};
            x = PICK(rng, v);
        } else if (in->variant == VAR_SIT_BENCH) {
            static const char *const v[] = {"sitting on a bench", "sitting on a wooden bench"};
            x = PICK(rng, v);
        } else {
            static const char *const v[] = {"sitting on a chair", "sitting in a chair", "seated on a chair"};
            x = PICK(rng, v);
        }
        break;
    }
    case DR_ACT_WAVING: {
        static const char *const slow[] = {"waving slowly", "slowly waving %s hand"};
        static const char *const nrm[] = {"waving", "waving at the camera", "waving %s hand"};
        static const char *const fast[] = {"waving quickly", "waving %s hand energetically"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_TALKING: {
        static const char *const slow[] = {"talking calmly with slow hand gestures", "talking slowly and gesturing"};
        static const char *const nrm[] = {"talking with hand gestures", "talking and gesturing", "speaking and gesturing with %s hands"};
        static const char *const fast[] = {"talking animatedly with quick gestures", "talking quickly and gesturing"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_STRETCHING: {
        static const char *const slow[] = {"stretching slowly", "doing slow stretches"};
        static const char *const nrm[] = {"stretching", "doing stretches", "stretching before a workout"};
        static const char *const fast[] = {"stretching quickly", "doing quick stretches"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_BOXING: {
        static const char *const slow[] = {"boxing slowly", "shadowboxing slowly"};
        static const char *const nrm[] = {"boxing", "shadowboxing", "practicing boxing punches"};
        static const char *const fast[] = {"boxing fast", "shadowboxing with quick punches"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        break;
    }
    case DR_ACT_TURNING_AROUND: {
        static const char *const sp_w[3] = {"slowly turning around", "turning around", "quickly turning around"};
        x = sp_w[sp];
        if (in->variant == VAR_TURN_TO_CAMERA) snprintf(buf, size, "%s to face the camera", x);
        else if (in->variant == VAR_TURN_AWAY) snprintf(buf, size, "%s to face away from the camera", x);
        else snprintf(buf, size, "%s", x);
        return buf;
    }
    case DR_ACT_KNEELING: {
        static const char *const sp_w[3] = {"slowly ", "", "quickly "};
        if (in->variant == VAR_KNEEL_ONE) snprintf(buf, size, "%skneeling down on one knee", sp_w[sp]);
        else snprintf(buf, size, "%skneeling down on both knees", sp_w[sp]);
        return buf;
    }
    case DR_ACT_LYING_DOWN: {
        static const char *const v[3][2] = {{"slowly lying down", "lying down slowly"},
                                            {"lying down", "lying down on %s back"},
                                            {"quickly lying down", "lying down quickly"}};
        x = v[sp][dr_rng_below(rng, 2)];
        break;
    }
    case DR_ACT_GETTING_UP: {
        static const char *const v[3][2] = {{"slowly getting up", "getting up slowly from the ground"},
                                            {"getting up from the ground", "getting up"},
                                            {"quickly getting up", "getting up quickly from the ground"}};
        x = v[sp][dr_rng_below(rng, 2)];
        break;
    }
    case DR_ACT_THROWING: {
        static const char *const obj[] = {"a ball", "a baseball", "a ball"};
        static const char *const sp_w[3] = {"slowly throwing", "throwing", "throwing hard,"};
        snprintf(buf, size, "%s %s", sp_w[sp], PICK(rng, obj));
        return buf;
    }
    default: {
        static const char *const slow[] = {"playing a slow song on the guitar", "slowly playing guitar"};
        static const char *const nrm[] = {"playing guitar", "playing an acoustic guitar", "playing the guitar"};
        static const char *const fast[] = {"playing guitar energetically", "strumming a guitar quickly"};
        x = sp == 0 ? PICK(rng, slow) : sp == 2 ? PICK(rng, fast) : PICK(rng, nrm);
        if (in->variant == VAR_GUITAR_SITTING) {
            snprintf(buf, size, "sitting and %s", x);
            return buf;
        }
        break;
    }
    }
    if (strstr(x, "at the camera") && in->facing != DR_FACE_CAMERA) x = "waving"; /* only true facing the camera */
    if (strstr(x, "%s")) snprintf(buf, size, x, pr->poss);
    else snprintf(buf, size, "%s", x);
    return buf;
}

/* Action word of the direction sentence ("She is running towards ..."). */
static const char *travel_verb(int a) {
    switch (a) {
    case DR_ACT_WALKING: return "walking";
    case DR_ACT_HIKING: return "hiking";
    case DR_ACT_RUNNING: return "running";
    case DR_ACT_JOGGING: return "jogging";
    case DR_ACT_CLIMBING_STAIRS: return "climbing";
    case DR_ACT_CYCLING: return "cycling";
    case DR_ACT_JUMPING: return "jumping";
    default: return "moving";
    }
}

static bool is_travel(int a) {
    return a == DR_ACT_WALKING || a == DR_ACT_HIKING || a == DR_ACT_RUNNING || a == DR_ACT_JOGGING ||
           a == DR_ACT_CLIMBING_STAIRS || a == DR_ACT_CYCLING;
}

static const char *const colors[] = {"black", "white", "gray", "red", "blue", "navy blue", "green", "yellow",
                                     "orange", "pink", "purple", "beige", "brown", "maroon", "teal", "light blue"};

static void appearance(dr_rng *rng, const caption_in *in, const kind *k, const pron *pr, const char *noun, sbuf *b) {
    static const char *const skins[] = {"fair", "light", "olive", "tan", "brown", "dark", "pale", "medium"};
    bool female = in->female, old = (k->flags & KF_OLD) != 0, child = in->child;
    const char *skin = PICK(rng, skins);
    char hair[128];
    if (old) {
        static const char *const h[] = {"short gray hair", "white hair", "thinning gray hair", "short white hair",
                                        "gray hair and glasses"};
        static const char *const hf[] = {"short gray hair", "white hair tied in a bun", "curly gray hair",
                                         "shoulder-length white hair", "gray hair and glasses"};
        snprintf(hair, sizeof hair, "%s", female ? PICK(rng, hf) : PICK(rng, h));
    } else {
        static const char *const hc[] = {"brown", "black", "blonde", "red", "dark brown", "light brown", "auburn"};
        const char *c = PICK(rng, hc);
        if (female) {
            static const char *const st[] = {"long %s hair pulled back into a ponytail", "long %s hair",
                                             "shoulder-length %s hair", "short %s hair", "curly %s hair",
                                             "%s hair tied in a bun", "wavy %s hair", "%s braided hair"};
            snprintf(hair, sizeof hair, PICK(rng, st), c);
        } else {
            static const char *const st[] = {"short %s hair", "short %s hair and a beard", "curly %s hair",
                                             "a shaved head", "%s hair and a mustache", "messy %s hair",
                                             "short %s hair and stubble"};
            const char *f = PICK(rng, st);
            if (child && strstr(f, "beard")) f = "short %s hair";
            if (child && strstr(f, "mustache")) f = "messy %s hair";
            if (child && strstr(f, "stubble")) f = "short %s hair";
            snprintf(hair, sizeof hair, f, c);
        }
    }
    static const char *const has[] = {"The %s has %s skin and %s.", "The %s has %s skin and %s.",
                                      "The %s, with %s skin, has %s."};
    int which = (int)dr_rng_below(rng, COUNT(has));
    sb_printf(b, " ");
    sb_printf(b, has[which], noun, skin, hair);

    /* clothing, by what the action calls for */
    const char *c1 = PICK(rng, colors), *c2 = PICK(rng, colors);
    while (c2 == c1) c2 = PICK(rng, colors);
    int a = in->action;
    char clothes[192];
    if (a == DR_ACT_CYCLING) {
        snprintf(clothes, sizeof clothes, "a %s cycling jersey, %s shorts and a helmet", c1, c2);
    } else if (a == DR_ACT_HIKING) {
        static const char *const top[] = {"jacket", "fleece", "t-shirt", "windbreaker"};
        static const char *const bot[] = {"hiking pants", "shorts", "cargo pants"};
        snprintf(clothes, sizeof clothes, "a %s %s, %s %s and a backpack", c1, PICK(rng, top), c2, PICK(rng, bot));
    } else if (a == DR_ACT_BOXING) {
        snprintf(clothes, sizeof clothes, "a %s tank top, %s shorts and boxing gloves", c1, c2);
    } else if (action_is_sport(a) || a == DR_ACT_YOGA) {
        static const char *const topf[] = {"tank top", "sports bra", "t-shirt", "athletic top", "hoodie"};
        static const char *const topm[] = {"tank top", "t-shirt", "athletic shirt", "hoodie", "sleeveless shirt"};
        static const char *const botf[] = {"leggings", "shorts", "track pants", "yoga pants"};
        static const char *const botm[] = {"shorts", "track pants", "joggers", "athletic shorts"};
        const char *top = female ? PICK(rng, topf) : PICK(rng, topm);
        if ((child || old) && !strcmp(top, "sports bra")) top = "t-shirt";
        snprintf(clothes, sizeof clothes, "a %s %s and %s %s", c1, top, c2, female ? PICK(rng, botf) : PICK(rng, botm));
    } else if (a == DR_ACT_DANCING || a == DR_ACT_POSING) {
        static const char *const f[] = {"a %s dress", "a %s crop top and %s pants", "a %s blouse and a %s skirt",
                                        "a %s jacket and %s jeans"};
        static const char *const m[] = {"a %s shirt and %s pants", "a %s hoodie and %s jeans",
                                        "a %s jacket and %s trousers", "a %s t-shirt and %s jeans"};
        snprintf(clothes, sizeof clothes, female ? PICK(rng, f) : PICK(rng, m), c1, c2);
    } else {
        static const char *const f[] = {"a %s sweater and %s jeans", "a %s dress", "a %s blouse and %s pants",
                                        "a %s t-shirt and %s shorts", "a %s coat and %s jeans", "a %s shirt and a %s skirt"};
        static const char *const m[] = {"a %s sweater and %s jeans", "a %s t-shirt and %s shorts",
                                        "a %s button-up shirt and %s pants", "a %s jacket and %s jeans",
                                        "a %s polo shirt and %s chinos", "a %s hoodie and %s pants"};
        snprintf(clothes, sizeof clothes, female ? PICK(rng, f) : PICK(rng, m), c1, c2);
    }
    static const char *const wear[] = {" %s is wearing %s.", " %s is wearing %s.", " %s wears %s.", " %s is dressed in %s."};
    sb_printf(b, PICK(rng, wear), pr->Subj, clothes);
    (void)a;
}

static const char *sp_adverb(int speed) { return speed == 0 ? " slowly" : speed == 2 ? " quickly" : ""; }

static void direction_sentence(dr_rng *rng, const caption_in *in, const pron *pr, sbuf *b) {
    int a = in->action;
    if (in->direction != DR_DIR_IN_PLACE) {
        const char *v = travel_verb(a);
        const char *adv = is_travel(a) ? "" : sp_adverb(in->speed);
        (void)adv;
        switch (in->direction) {
        case DR_DIR_RIGHT: {
            static const char *const f[] = {" %s is %s towards the right side of the frame.", " %s is %s to the right.",
                                            " %s is %s from left to right."};
            sb_printf(b, PICK(rng, f), pr->Subj, v);
            break;
        }
        case DR_DIR_LEFT: {
            static const char *const f[] = {" %s is %s towards the left side of the frame.", " %s is %s to the left.",
                                            " %s is %s from right to left."};
            sb_printf(b, PICK(rng, f), pr->Subj, v);
            break;
        }
        case DR_DIR_TOWARD: {
            static const char *const f[] = {" %s is %s towards the camera.", " %s is %s straight at the camera.",
                                            " %s is %s in the direction of the camera."};
            sb_printf(b, PICK(rng, f), pr->Subj, v);
            break;
        }
        default: {
            static const char *const f[] = {" %s is %s away from the camera.", " %s is %s away from the viewer.",
                                            " %s is %s into the distance, away from the camera."};
            sb_printf(b, PICK(rng, f), pr->Subj, v);
            break;
        }
        }
        return;
    }
    switch (in->facing) {
    case DR_FACE_CAMERA: {
        static const char *const f[] = {" %s is facing the camera.", " %s faces the camera.", " %s is turned towards the camera."};
        sb_printf(b, PICK(rng, f), pr->Subj);
        break;
    }
    case DR_FACE_RIGHT: {
        static const char *const f[] = {" %s is facing the right side of the frame.", " %s faces to the right.",
                                        " %s is seen in profile, facing right."};
        sb_printf(b, PICK(rng, f), pr->Subj);
        break;
    }
    case DR_FACE_LEFT: {
        static const char *const f[] = {" %s is facing the left side of the frame.", " %s faces to the left.",
                                        " %s is seen in profile, facing left."};
        sb_printf(b, PICK(rng, f), pr->Subj);
        break;
    }
    default: {
        static const char *const f[] = {" %s is facing away from the camera.", " %s has %s back to the camera."};
        int w = (int)dr_rng_below(rng, 2);
        if (w == 0) sb_printf(b, f[0], pr->Subj);
        else sb_printf(b, f[1], pr->Subj, pr->poss);
        break;
    }
    }
    if (dr_rng_below(rng, 3) == 0) sb_printf(b, " %s stays in the same spot.", pr->Subj);
}

/* "a orange top" -> "an orange top", in place (the buffer has room: one byte per fix is
 * checked against the size). */
static void fix_articles(char *s, size_t size) {
    size_t len = strlen(s);
    for (size_t i = 0; i + 2 < len; i++) {
        bool start = i == 0 || s[i - 1] == ' ';
        if (!start || (s[i] != 'a' && s[i] != 'A') || s[i + 1] != ' ' || !strchr("aeiouAEIOU", s[i + 2])) continue;
        if (len + 2 > size) return;
        memmove(s + i + 2, s + i + 1, len - i); /* includes the terminator */
        s[i + 1] = 'n';
        len++;
    }
}

void caption_write(dr_rng *rng, const caption_in *in, char *subject, size_t subject_size, char *prompt,
                   size_t prompt_size) {
    const kind *k = &kinds[in->kind];
    const place *pl = &places[in->place];
    static const pron he = {"he", "He", "him", "his"}, she = {"she", "She", "her", "her"};
    const pron *pr = in->female ? &she : &he;
    char noun[48];
    if (k->sex == SEX_ANY) snprintf(noun, sizeof noun, "%s", k->name);
    else snprintf(noun, sizeof noun, "%s", k->name);
    char act[160];
    action_phrase(rng, in, pr, act, sizeof act);
    const char *where;
    bool travel = in->direction != DR_DIR_IN_PLACE && is_travel(in->action);
    if (in->action == DR_ACT_SITTING && in->variant != VAR_SIT_CHAIR && in->variant != VAR_SIT_COUCH) where = pl->at[dr_rng_below(rng, 3)];
    else where = travel && dr_rng_below(rng, 4) != 0 ? pl->through[dr_rng_below(rng, 3)] : pl->at[dr_rng_below(rng, 3)];
    if (in->action == DR_ACT_CLIMBING_STAIRS) where = pl->at[dr_rng_below(rng, 3)];
    if (in->action == DR_ACT_SITTING && in->variant == VAR_SIT_BENCH) where = !strcmp(pl->key, "park") ? "in a park" : "on a city street";
    /* "a man athlete" reads badly: athletes and dancers get a sex word sometimes */
    char subj_np[80];
    if (k->sex == SEX_ANY && dr_rng_below(rng, 2))
        snprintf(subj_np, sizeof subj_np, "a %s %s", in->female ? "female" : "male", k->name);
    else snprintf(subj_np, sizeof subj_np, "%s %s", k->article, k->name);

    sbuf sb = {subject, subject_size, 0};
    subject[0] = 0;
    static const char *const opener[] = {"The video shows", "The video shows", "The video shows", "The video features",
                                         "The video captures", "This video shows"};
    int form = (int)dr_rng_below(rng, 8);
    if (form == 0) {
        sb_printf(&sb, "In the video, %s is %s %s.", subj_np, act, where);
    } else {
        sb_printf(&sb, "%s %s %s %s.", PICK(rng, opener), subj_np, act, where);
    }

    fix_articles(subject, subject_size);
    sbuf pb = {prompt, prompt_size, 0};
    prompt[0] = 0;
    sb_printf(&pb, "%s", subject);
    appearance(rng, in, k, pr, noun, &pb);
    direction_sentence(rng, in, pr, &pb);
    static const char *const bgf[] = {" The background is %s.", " The background shows %s.", " In the background there are %s."};
    const char *bg = pl->bg[dr_rng_below(rng, 4)];
    int bw = (int)dr_rng_below(rng, COUNT(bgf));
    if (bw == 2 && (!strncmp(bg, "a ", 2) || !strncmp(bg, "the ", 4))) bw = 0;
    sb_printf(&pb, bgf[bw], bg);
    if (dr_rng_below(rng, 3) == 0) {
        sb_printf(&pb, " The %s is %s %s.", noun, act, where);
    }
    if (dr_rng_below(rng, 3) == 0) {
        static const char *const acc[] = {" %s is wearing a watch on %s left wrist.", " %s is wearing sunglasses.",
                                          " %s is wearing headphones.", " %s is wearing a cap.",
                                          " %s is wearing white sneakers.", " %s has a bracelet on %s right wrist."};
        const char *f = PICK(rng, acc);
        if (strstr(f, "%s left") || strstr(f, "%s right")) sb_printf(&pb, f, pr->Subj, pr->poss);
        else sb_printf(&pb, f, pr->Subj);
    }
    if (in->camera_follows) {
        static const char *const f[] = {" The camera follows %s.", " The camera moves along with %s.",
                                        " The camera tracks %s."};
        sb_printf(&pb, PICK(rng, f), pr->obj);
    } else {
        static const char *const f[] = {" The camera is static.", " The camera is static.", " The camera remains still.",
                                        " The camera is stationary."};
        sb_printf(&pb, "%s", PICK(rng, f));
    }
    fix_articles(prompt, prompt_size);
}
