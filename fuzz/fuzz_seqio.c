/* libFuzzer target: director pose-sequence JSON and OpenPose frame parsing on arbitrary
 * bytes; a sequence that parses must also validate and render. */
#include <stddef.h>
#include <stdint.h>

#include "pose/seqio.h"
#include "render/pose_draw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dr_pose_seq seq;
    dr_err err;
    if (dr_seq_parse_json((const char *)data, size, "fuzz.json", &seq, &err) == DR_OK) {
        if (dr_seq_validate(&seq, "fuzz.json", &err) != DR_OK) __builtin_trap();
        dr_image img;
        if (dr_image_alloc(&img, 64, 40) == DR_OK) {
            for (int f = 0; f < seq.num_frames && f < 8; f++) dr_render_pose(&img, &seq.frames[f], seq.width, seq.height);
            dr_image_free(&img);
        }
        dr_pose_seq_free(&seq);
    }
    dr_pose pose;
    int w, h;
    dr_openpose_parse_frame((const char *)data, size, "fuzz.json", &pose, &w, &h, &err);
    return 0;
}
