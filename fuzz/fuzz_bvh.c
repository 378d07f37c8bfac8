/* libFuzzer target: BVH parsing and the whole import (mapping, FK, camera, projection)
 * on arbitrary bytes. Must never crash, hang or leak. */
#include <stddef.h>
#include <stdint.h>

#include "io/bvh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dr_bvh bvh;
    dr_err err;
    if (dr_bvh_parse((const char *)data, size, "fuzz.bvh", &bvh, &err) != DR_OK) return 0;
    /* Keep the import cheap: long motions are valid but slow to project many times. */
    if ((long)bvh.num_frames * bvh.num_joints <= 200000) {
        dr_bvh_import_opts opts;
        dr_bvh_import_opts_init(&opts);
        opts.width = 64, opts.height = 40;
        dr_pose_seq seq;
        if (dr_bvh_to_pose_seq(&bvh, "fuzz.bvh", &opts, &seq, &err) == DR_OK) dr_pose_seq_free(&seq);
    }
    dr_bvh_free(&bvh);
    return 0;
}
