/* fsutil.h - files that are either complete or absent.
 *
 * director never leaves a half-written output: single files are written to
 * "<path>.tmp.<pid>" and renamed into place on success (dr_atomic_file); output
 * folders are built in a temporary sibling folder and renamed at the end
 * (dr_tmpdir_*); files inside such a folder skip their own fsync, because the folder commit
 * syncs once for all of them. Also: reading a whole file with a size limit, mkdir -p, rm -rf. */
#ifndef DIRECTOR_CORE_FSUTIL_H
#define DIRECTOR_CORE_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/error.h"

typedef struct dr_atomic_file {
    FILE *fp;
    char path[4096];
    char tmp_path[4096];
} dr_atomic_file;

/* Open a temporary file next to `path` for writing ("wb"). */
int dr_atomic_open(dr_atomic_file *af, const char *path, dr_err *err);
/* Flush, fsync, close and rename into place. On any failure (disk full) the temporary
 * file is removed and an error naming `path` is returned. */
int dr_atomic_commit(dr_atomic_file *af, dr_err *err);
/* Close and remove the temporary file (after an error elsewhere). Safe to call twice. */
void dr_atomic_abort(dr_atomic_file *af);
/* Whole buffer to a file, atomically. */
int dr_write_file_atomic(const char *path, const void *data, size_t size, dr_err *err);

/* Read a whole file into a malloc'd buffer with a terminating NUL (not counted in *size).
 * Files larger than max_size are refused with an error naming the file. */
int dr_read_file(const char *path, size_t max_size, char **data, size_t *size, dr_err *err);

int dr_mkdir_p(const char *path, dr_err *err);
/* Remove a file or a folder tree. Missing paths are not an error. */
int dr_rm_rf(const char *path);
bool dr_is_dir(const char *path);
bool dr_file_exists(const char *path);

/* Create "<final_path>.tmp-XXXXXX" (same parent, so the final rename is atomic; missing
 * parent folders are created) and write its path into tmp_path. */
int dr_tmpdir_create(const char *final_path, char *tmp_path, size_t size, dr_err *err);
/* Move a finished temporary folder to final_path, replacing an existing folder there. */
int dr_tmpdir_commit(const char *tmp_path, const char *final_path, dr_err *err);

/* Map a whole regular file read-only (parsers of safetensors, GGUF and datasets read
 * through this). Files shorter than min_size are refused as truncated, the message naming
 * `what` ("the 8-byte header length"). Release with dr_unmap_file. */
int dr_map_file(const char *path, size_t min_size, const char *what, void **map, size_t *size, dr_err *err);
void dr_unmap_file(void *map, size_t size);

/* Join two path parts into buf ("a" + "b" -> "a/b"); returns DR_ERANGE if too long. */
int dr_path_join(char *buf, size_t size, const char *a, const char *b);

#endif
