#include "core/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int dr_atomic_open(dr_atomic_file *af, const char *path, dr_err *err) {
    memset(af, 0, sizeof *af);
    if (snprintf(af->path, sizeof af->path, "%s", path) >= (int)sizeof af->path ||
        snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof af->tmp_path)
        return dr_err_set(err, DR_ERANGE, "%s: path too long", path);
    af->fp = fopen(af->tmp_path, "wb");
    if (!af->fp) return dr_err_set(err, DR_EIO, "%s: cannot create: %s", path, strerror(errno));
    return DR_OK;
}

/* The suffix dr_tmpdir_create gives its folders. */
#define TMPDIR_MARK ".tmp-"

/* A file inside a folder made by dr_tmpdir_create needs no fsync of its own: nobody sees it
 * until dr_tmpdir_commit, which syncs the whole file system once before the rename. That
 * turns an output folder of hundreds of frames from hundreds of disk flushes into one. */
static bool inside_tmpdir(const char *path) {
    const char *m = strstr(path, TMPDIR_MARK);
    return m && strchr(m, '/') != NULL;
}

int dr_atomic_commit(dr_atomic_file *af, dr_err *err) {
    if (!af->fp) return dr_err_set(err, DR_EIO, "%s: file was not open", af->path);
    int failed = ferror(af->fp);
    int saved_errno = failed ? EIO : 0;
    if (fflush(af->fp) != 0) { failed = 1; saved_errno = errno; }
    if (!failed && !inside_tmpdir(af->path) && fsync(fileno(af->fp)) != 0) { failed = 1; saved_errno = errno; }
    if (fclose(af->fp) != 0 && !failed) { failed = 1; saved_errno = errno; }
    af->fp = NULL;
    if (!failed && rename(af->tmp_path, af->path) != 0) { failed = 1; saved_errno = errno; }
    if (failed) {
        unlink(af->tmp_path);
        return dr_err_set(err, DR_EIO, "%s: write failed: %s", af->path, strerror(saved_errno));
    }
    return DR_OK;
}

void dr_atomic_abort(dr_atomic_file *af) {
    if (af->fp) {
        fclose(af->fp);
        af->fp = NULL;
    }
    if (af->tmp_path[0]) unlink(af->tmp_path);
    af->tmp_path[0] = '\0';
}

int dr_write_file_atomic(const char *path, const void *data, size_t size, dr_err *err) {
    dr_atomic_file af;
    int rc = dr_atomic_open(&af, path, err);
    if (rc) return rc;
    if (size && fwrite(data, 1, size, af.fp) != size) {
        int e = errno;
        dr_atomic_abort(&af);
        return dr_err_set(err, DR_EIO, "%s: write failed: %s", path, strerror(e));
    }
    return dr_atomic_commit(&af, err);
}

int dr_read_file(const char *path, size_t max_size, char **data, size_t *size, dr_err *err) {
    *data = NULL;
    if (size) *size = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return dr_err_set(err, errno == ENOENT ? DR_ENOTFOUND : DR_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return dr_err_set(err, DR_EIO, "%s: not a regular file", path);
    }
    if ((size_t)st.st_size > max_size) {
        fclose(fp);
        return dr_err_set(err, DR_ERANGE, "%s: file is %lld bytes, more than the limit of %zu", path,
                          (long long)st.st_size, max_size);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(fp);
        return dr_err_set(err, DR_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (bad || got != n) {
        free(buf);
        return dr_err_set(err, DR_EIO, "%s: read failed", path);
    }
    buf[n] = '\0';
    *data = buf;
    if (size) *size = n;
    return DR_OK;
}

int dr_mkdir_p(const char *path, dr_err *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return dr_err_set(err, DR_ERANGE, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return dr_err_set(err, DR_EIO, "%s: cannot create folder: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return dr_err_set(err, DR_EIO, "%s: cannot create folder: %s", buf, strerror(errno));
    if (!dr_is_dir(buf)) return dr_err_set(err, DR_EIO, "%s: exists and is not a folder", buf);
    return DR_OK;
}

int dr_rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? DR_OK : DR_EIO;
    if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 ? DR_OK : DR_EIO;
    DIR *d = opendir(path);
    if (!d) return DR_EIO;
    int rc = DR_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char child[4096];
        if (dr_path_join(child, sizeof child, path, e->d_name) != DR_OK) { rc = DR_ERANGE; continue; }
        if (dr_rm_rf(child) != DR_OK) rc = DR_EIO;
    }
    closedir(d);
    if (rmdir(path) != 0) rc = DR_EIO;
    return rc;
}

bool dr_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool dr_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int dr_tmpdir_create(const char *final_path, char *tmp_path, size_t size, dr_err *err) {
    /* The output may be asked for under folders that do not exist yet ("out/run"); make them,
     * as mkdir -p would, so the temporary sibling and the final rename have a parent. */
    char parent[4096];
    if (snprintf(parent, sizeof parent, "%s", final_path) >= (int)sizeof parent)
        return dr_err_set(err, DR_ERANGE, "%s: path too long", final_path);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        int rc = dr_mkdir_p(parent, err);
        if (rc) return rc;
    }
    if (snprintf(tmp_path, size, "%s" TMPDIR_MARK "XXXXXX", final_path) >= (int)size)
        return dr_err_set(err, DR_ERANGE, "%s: path too long", final_path);
    if (!mkdtemp(tmp_path))
        return dr_err_set(err, DR_EIO, "%s: cannot create a temporary folder next to it: %s", final_path, strerror(errno));
    return DR_OK;
}

int dr_tmpdir_commit(const char *tmp_path, const char *final_path, dr_err *err) {
    /* Make every file written inside durable before the folder becomes visible. */
    int dfd = open(tmp_path, O_RDONLY | O_DIRECTORY);
    if (dfd < 0) return dr_err_set(err, DR_EIO, "%s: cannot open: %s", tmp_path, strerror(errno));
    int sync_failed = syncfs(dfd) != 0;
    int sync_errno = errno;
    close(dfd);
    if (sync_failed) return dr_err_set(err, DR_EIO, "%s: cannot flush to disk: %s", final_path, strerror(sync_errno));
    if (rename(tmp_path, final_path) == 0) return DR_OK;
    if (errno == ENOTEMPTY || errno == EEXIST || errno == EISDIR) {
        /* Replace the old folder: move it aside first so that a failure leaves one intact. */
        char old[4096];
        if (snprintf(old, sizeof old, "%s.old-%ld", final_path, (long)getpid()) >= (int)sizeof old)
            return dr_err_set(err, DR_ERANGE, "%s: path too long", final_path);
        if (rename(final_path, old) != 0)
            return dr_err_set(err, DR_EIO, "%s: cannot replace existing output: %s", final_path, strerror(errno));
        if (rename(tmp_path, final_path) != 0) {
            int e = errno;
            rename(old, final_path);
            return dr_err_set(err, DR_EIO, "%s: cannot move output into place: %s", final_path, strerror(e));
        }
        dr_rm_rf(old);
        return DR_OK;
    }
    return dr_err_set(err, DR_EIO, "%s: cannot move output into place: %s", final_path, strerror(errno));
}

int dr_path_join(char *buf, size_t size, const char *a, const char *b) {
    size_t la = strlen(a);
    int n = (la && a[la - 1] == '/') ? snprintf(buf, size, "%s%s", a, b) : snprintf(buf, size, "%s/%s", a, b);
    return (n < 0 || (size_t)n >= size) ? DR_ERANGE : DR_OK;
}

int dr_map_file(const char *path, size_t min_size, const char *what, void **map, size_t *size, dr_err *err) {
    *map = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return dr_err_set(err, errno == ENOENT ? DR_ENOTFOUND : DR_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return dr_err_set(err, DR_EIO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    if (n < min_size || n == 0) {
        close(fd);
        return dr_err_set(err, DR_EFORMAT, "%s: truncated: %zu bytes, less than %s (%zu bytes)", path, n, what, min_size);
    }
    void *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (m == MAP_FAILED) return dr_err_set(err, DR_EIO, "%s: cannot map: %s", path, strerror(map_errno));
    *map = m;
    *size = n;
    return DR_OK;
}

void dr_unmap_file(void *map, size_t size) {
    if (map) munmap(map, size);
}
