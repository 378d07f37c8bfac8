/* libFuzzer target for the dataset reader (pose/dataset.h): the input is split into a
 * poses file and a captions file (the first 4 bytes give the poses part's length), both
 * are written to a scratch folder and opened as split "train". Any input must open cleanly
 * or fail with an error; an accepted dataset's keypoints obey the format's rules and every
 * clip has its three caption strings. Build with `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pose/dataset.h"

static char dir[64];

static void put(const char *name, const uint8_t *data, size_t size) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/fuzz_dataset.%d", (int)getpid());
        if (mkdir(dir, 0700) && access(dir, W_OK)) abort();
    }
    if (size < 4) return 0;
    uint32_t n;
    memcpy(&n, data, 4);
    size_t rest = size - 4, np = n % (rest + 1);
    put("train.poses", data + 4, np);
    put("train.jsonl", data + 4 + np, rest - np);
    dr_dataset ds;
    dr_err err;
    if (dr_dataset_open(&ds, dir, "train", &err) == 0) {
        for (int c = 0; c < ds.num_clips; c++) {
            if (!ds.subject[c] || !ds.prompt[c] || !ds.action[c]) abort();
            const dr_pose *clip = dr_dataset_clip(&ds, c);
            for (int f = 0; f < ds.num_frames; f++)
                for (int k = 0; k < DR_NUM_KEYPOINTS; k++) {
                    const dr_keypoint *p = &clip[f].kp[k];
                    if (!(p->c >= 0 && p->c <= 1) || (p->c == 0 && (p->x != 0 || p->y != 0))) abort();
                }
        }
        dr_dataset_close(&ds);
    }
    return 0;
}
