/* generate.c - the smallest complete use of the director C API.
 *
 *   build/example_generate "The video shows a man jogging in a park." [models-dir]
 *
 * Loads the shipped models, plans the motion for the prompt, prints where the right
 * wrist is every second, and renders the last frame's ControlNet skeleton to a PPM file. */
#include <stdio.h>
#include <stdlib.h>

#include "director.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s \"PROMPT\" [models-dir]\n", argv[0]);
        return 2;
    }
    char err[1024];
    director_pipeline *pipeline = NULL;
    if (director_pipeline_load(&pipeline, argc > 2 ? argv[2] : "models", err, sizeof err) != DIRECTOR_OK) {
        fprintf(stderr, "cannot load models: %s\n", err);
        return 1;
    }
    director_options opts;
    director_options_default(&opts);
    opts.seed = 42;
    opts.quiet = 1;
    director_result *result = NULL;
    if (director_generate(pipeline, argv[1], &opts, &result) != DIRECTOR_OK) {
        fprintf(stderr, "generation failed: %s\n", director_last_error(pipeline));
        director_pipeline_free(pipeline);
        return 1;
    }
    const director_sample *s = &result->samples[0];
    printf("subject-level prompt: %s\n", result->subject_prompt);
    printf("first key frame's pose tokens:");
    for (int k = 0; k < s->num_tokens / s->num_keyframes; k++) printf(" %d", s->tokens[k]);
    printf("\n");
    const int right_wrist = 4;
    for (int f = 0; f < s->num_frames; f += (int)result->fps) {
        const float *kp = s->poses + ((size_t)f * DIRECTOR_NUM_KEYPOINTS + right_wrist) * 3;
        if (kp[2] > 0) printf("t=%4.1fs  right wrist at (%6.1f, %6.1f)\n", f / result->fps, kp[0], kp[1]);
        else printf("t=%4.1fs  right wrist not visible\n", f / result->fps);
    }
    size_t bytes = (size_t)result->width * result->height * 3;
    unsigned char *rgb = malloc(bytes);
    if (rgb && director_render_skeleton(pipeline, result, 0, s->num_frames - 1, rgb) == DIRECTOR_OK) {
        FILE *f = fopen("last_frame.ppm", "wb");
        if (f) {
            fprintf(f, "P6\n%d %d\n255\n", result->width, result->height);
            fwrite(rgb, 1, bytes, f);
            fclose(f);
            printf("wrote last_frame.ppm\n");
        }
    }
    free(rgb);
    director_result_free(result);
    director_pipeline_free(pipeline);
    return 0;
}
