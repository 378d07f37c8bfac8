/* video.h - streaming video files of dr_image frames: MP4 (H.264) and animated GIF.
 *
 * Frames are fed one at a time (nothing is held in memory but the encoder's state), so a
 * 200-frame preview or a long motion capture costs the same memory. The MP4 is H.264
 * (libx264 through libavcodec) in yuv420p with the index (moov atom) at the front, so it
 * plays in a browser as it downloads; odd frame sizes are padded to even with black. The
 * GIF uses a fixed palette (a 6x6x6 colour cube plus the ControlNet skeleton colours, so
 * skeleton frames keep their exact colours) and loops forever. Either file is written
 * under a temporary name and renamed on dr_video_close: it is complete or absent.
 * Opening an MP4 writer sets libav's process-wide log level to quiet (libav would print
 * info lines; the library never prints). */
#ifndef DIRECTOR_IO_VIDEO_H
#define DIRECTOR_IO_VIDEO_H

#include "core/error.h"
#include "render/image.h"

typedef enum dr_video_format {
    DR_VIDEO_MP4 = 0,
    DR_VIDEO_GIF = 1,
} dr_video_format;

typedef struct dr_video_writer dr_video_writer;

/* From the file name: ".gif" -> GIF, ".mp4" / ".m4v" / ".mov" -> MP4; else DR_EINVAL. */
int dr_video_format_from_path(const char *path, dr_video_format *fmt, dr_err *err);
/* Open a writer for width x height frames at `fps` (0 < fps <= 240). */
int dr_video_open(dr_video_writer **w, const char *path, dr_video_format fmt, int width, int height, float fps,
                  dr_err *err);
/* Append one frame (must be width x height). */
int dr_video_write(dr_video_writer *w, const dr_image *frame, dr_err *err);
/* Flush the encoder, finish the file and move it into place; frees the writer. */
int dr_video_close(dr_video_writer *w, dr_err *err);
/* Discard everything written so far; frees the writer. Safe with NULL. */
void dr_video_abort(dr_video_writer *w);

#endif
