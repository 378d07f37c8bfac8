#include "io/video.h"

#include <gif_lib.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "pose/skeleton.h"

struct dr_video_writer {
    dr_video_format fmt;
    int width, height;
    float fps;
    long frames;
    char path[4096];
    /* MP4 */
    char tmp_path[4200];
    AVFormatContext *oc;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *yuv;
    AVPacket *pkt;
    struct SwsContext *sws;
    uint8_t *padded; /* RGB frame padded to even size */
    int enc_w, enc_h;
    /* GIF */
    dr_atomic_file af;
    GifFileType *gif;
    GifPixelType *indices;
    uint8_t *lut; /* 15-bit RGB -> palette index */
    ColorMapObject *cmap;
};

int dr_video_format_from_path(const char *path, dr_video_format *fmt, dr_err *err) {
    const char *dot = strrchr(path, '.');
    if (dot && !strcasecmp(dot, ".gif")) *fmt = DR_VIDEO_GIF;
    else if (dot && (!strcasecmp(dot, ".mp4") || !strcasecmp(dot, ".m4v") || !strcasecmp(dot, ".mov"))) *fmt = DR_VIDEO_MP4;
    else return dr_err_set(err, DR_EINVAL, "%s: unknown video type (use .mp4 or .gif)", path);
    return DR_OK;
}

static int av_fail(dr_err *err, const char *path, const char *what, int averr) {
    char buf[128];
    av_strerror(averr, buf, sizeof buf);
    return dr_err_set(err, DR_EIO, "%s: %s: %s", path, what, buf);
}

/* ---- MP4 ---------------------------------------------------------------------- */

static int mp4_open(dr_video_writer *w, dr_err *err) {
    int ret;
    /* libav logs through a process-wide level, and the mp4 muxer prints an info line
     * for the faststart pass: the library never prints, so libav is made quiet (an
     * application that wants libav's messages can raise the level again). */
    if (av_log_get_level() > AV_LOG_QUIET) av_log_set_level(AV_LOG_QUIET);
    w->enc_w = (w->width + 1) & ~1;
    w->enc_h = (w->height + 1) & ~1;
    snprintf(w->tmp_path, sizeof w->tmp_path, "%s.tmp.%ld", w->path, (long)getpid());
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_H264);
    if (!codec) return dr_err_set(err, DR_EUNSUPPORTED, "%s: this libavcodec has no H.264 encoder", w->path);
    /* The temporary name has no .mp4 extension: name the muxer explicitly. */
    if ((ret = avformat_alloc_output_context2(&w->oc, NULL, "mp4", w->tmp_path)) < 0 || !w->oc)
        return av_fail(err, w->path, "cannot create the MP4 muxer", ret);
    w->st = avformat_new_stream(w->oc, NULL);
    w->enc = avcodec_alloc_context3(codec);
    w->pkt = av_packet_alloc();
    w->yuv = av_frame_alloc();
    if (!w->st || !w->enc || !w->pkt || !w->yuv) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", w->path);
    AVRational rate = av_d2q(w->fps, 100000);
    w->enc->width = w->enc_w;
    w->enc->height = w->enc_h;
    w->enc->pix_fmt = AV_PIX_FMT_YUV420P; /* the only format every browser decodes */
    w->enc->time_base = av_inv_q(rate);
    w->enc->framerate = rate;
    w->enc->gop_size = 60;
    w->enc->thread_count = 1; /* frames are small; leave the cores to the caller */
    /* The library never prints: push libx264's and the encoder's log lines below any
     * level av_log shows (errors still come back as return codes). */
    w->enc->log_level_offset = 100;
    if (w->oc->oformat->flags & AVFMT_GLOBALHEADER) w->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (!strcmp(codec->name, "libx264")) {
        av_opt_set(w->enc->priv_data, "preset", "veryfast", 0);
        /* Flat colours on black: CRF 18 keeps limb edges clean at a small size. */
        av_opt_set(w->enc->priv_data, "crf", "18", 0);
        av_opt_set(w->enc->priv_data, "profile", "high", 0);
    }
    if ((ret = avcodec_open2(w->enc, codec, NULL)) < 0) return av_fail(err, w->path, "cannot open the H.264 encoder", ret);
    if ((ret = avcodec_parameters_from_context(w->st->codecpar, w->enc)) < 0)
        return av_fail(err, w->path, "cannot set stream parameters", ret);
    w->st->time_base = w->enc->time_base;
    w->st->avg_frame_rate = rate;
    if ((ret = avio_open(&w->oc->pb, w->tmp_path, AVIO_FLAG_WRITE)) < 0)
        return av_fail(err, w->path, "cannot create the file", ret);
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "movflags", "+faststart", 0); /* moov atom first: streams in a browser */
    ret = avformat_write_header(w->oc, &opts);
    av_dict_free(&opts);
    if (ret < 0) return av_fail(err, w->path, "cannot write the MP4 header", ret);
    w->yuv->format = AV_PIX_FMT_YUV420P;
    w->yuv->width = w->enc_w;
    w->yuv->height = w->enc_h;
    if ((ret = av_frame_get_buffer(w->yuv, 0)) < 0) return av_fail(err, w->path, "cannot allocate a frame", ret);
    /* BT.601 limited range, the default players assume for SD-sized H.264. */
    w->sws = sws_getContext(w->enc_w, w->enc_h, AV_PIX_FMT_RGB24, w->enc_w, w->enc_h, AV_PIX_FMT_YUV420P,
                            SWS_BICUBIC, NULL, NULL, NULL);
    w->padded = calloc((size_t)w->enc_w * (size_t)w->enc_h, 3);
    if (!w->sws || !w->padded) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", w->path);
    return DR_OK;
}

/* Send a frame (NULL flushes) and write every packet the encoder has ready. */
static int mp4_encode(dr_video_writer *w, AVFrame *frame, dr_err *err) {
    int ret = avcodec_send_frame(w->enc, frame);
    if (ret < 0) return av_fail(err, w->path, "encoding failed", ret);
    for (;;) {
        ret = avcodec_receive_packet(w->enc, w->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return DR_OK;
        if (ret < 0) return av_fail(err, w->path, "encoding failed", ret);
        av_packet_rescale_ts(w->pkt, w->enc->time_base, w->st->time_base);
        w->pkt->stream_index = w->st->index;
        ret = av_interleaved_write_frame(w->oc, w->pkt);
        if (ret < 0) return av_fail(err, w->path, "cannot write", ret);
    }
}

static int mp4_write(dr_video_writer *w, const dr_image *img, dr_err *err) {
    const uint8_t *src = img->rgb;
    int stride = 3 * w->width;
    if (w->enc_w != w->width || w->enc_h != w->height) {
        for (int y = 0; y < w->height; y++)
            memcpy(w->padded + (size_t)y * 3 * w->enc_w, img->rgb + (size_t)y * 3 * w->width, (size_t)3 * w->width);
        src = w->padded;
        stride = 3 * w->enc_w;
    }
    int ret = av_frame_make_writable(w->yuv);
    if (ret < 0) return av_fail(err, w->path, "frame not writable", ret);
    const uint8_t *planes[1] = {src};
    int strides[1] = {stride};
    sws_scale(w->sws, planes, strides, 0, w->enc_h, w->yuv->data, w->yuv->linesize);
    w->yuv->pts = w->frames;
    return mp4_encode(w, w->yuv, err);
}

static void mp4_free(dr_video_writer *w) {
    if (w->oc) {
        if (w->oc->pb) avio_closep(&w->oc->pb);
        avformat_free_context(w->oc);
        w->oc = NULL;
    }
    avcodec_free_context(&w->enc);
    av_frame_free(&w->yuv);
    av_packet_free(&w->pkt);
    sws_freeContext(w->sws);
    w->sws = NULL;
    free(w->padded);
    w->padded = NULL;
}

static int mp4_close(dr_video_writer *w, dr_err *err) {
    int rc = mp4_encode(w, NULL, err);
    if (!rc) {
        int ret = av_write_trailer(w->oc); /* with faststart, moves the moov atom to the front */
        if (ret < 0) rc = av_fail(err, w->path, "cannot finish the MP4", ret);
    }
    if (w->oc && w->oc->pb) {
        int ret = avio_closep(&w->oc->pb);
        if (!rc && ret < 0) rc = av_fail(err, w->path, "cannot close", ret);
    }
    mp4_free(w);
    if (!rc && rename(w->tmp_path, w->path))
        rc = dr_err_set(err, DR_EIO, "%s: cannot rename the finished file into place", w->path);
    if (rc) unlink(w->tmp_path);
    return rc;
}

/* ---- GIF ------------------------------------------------------------------------- */

static int gif_output(GifFileType *gif, const GifByteType *data, int len) {
    FILE *fp = gif->UserData;
    return (int)fwrite(data, 1, (size_t)len, fp);
}

/* The fixed palette: the 6-level cube (0, 51, ..., 255, which holds every limb colour
 * int(0.6 * c) of the skeleton), then the keypoint colours not in the cube (their 85 and
 * 170 levels), then greys. */
static int build_palette(GifColorType *pal) {
    int n = 0;
    for (int r = 0; r < 6; r++)
        for (int g = 0; g < 6; g++)
            for (int b = 0; b < 6; b++) pal[n].Red = (GifByteType)(51 * r), pal[n].Green = (GifByteType)(51 * g),
                                        pal[n].Blue = (GifByteType)(51 * b), n++;
    for (int k = 0; k < DR_NUM_KEYPOINTS; k++) {
        const uint8_t *c = dr_keypoint_colors[k];
        bool have = false;
        for (int i = 0; i < n && !have; i++) have = pal[i].Red == c[0] && pal[i].Green == c[1] && pal[i].Blue == c[2];
        if (!have) pal[n].Red = c[0], pal[n].Green = c[1], pal[n].Blue = c[2], n++;
    }
    for (int v = 17; n < 256; v += 17) {
        if (v % 51 == 0) continue; /* already in the cube */
        if (v > 255) { pal[n].Red = pal[n].Green = pal[n].Blue = 0; n++; continue; }
        pal[n].Red = pal[n].Green = pal[n].Blue = (GifByteType)v, n++;
    }
    return n;
}

/* Nearest palette entry for every 5-bit-per-channel colour, judged at the bucket's
 * centre; exact skeleton colours land on themselves because no two palette levels
 * share a bucket. */
static void build_lut(const GifColorType *pal, int n, uint8_t *lut) {
    for (int i = 0; i < 32768; i++) {
        int r = ((i >> 10) & 31) * 8 + 4, g = ((i >> 5) & 31) * 8 + 4, b = (i & 31) * 8 + 4;
        int best = 0, best_d = INT32_MAX;
        for (int k = 0; k < n; k++) {
            int dr = r - pal[k].Red, dg = g - pal[k].Green, db = b - pal[k].Blue;
            int d = 3 * dr * dr + 4 * dg * dg + 2 * db * db;
            if (d < best_d) best_d = d, best = k;
        }
        lut[i] = (uint8_t)best;
    }
}

static int gif_open(dr_video_writer *w, dr_err *err) {
    int rc = dr_atomic_open(&w->af, w->path, err);
    if (rc) return rc;
    int gerr = 0;
    w->gif = EGifOpen(w->af.fp, gif_output, &gerr);
    w->cmap = GifMakeMapObject(256, NULL);
    w->indices = malloc((size_t)w->width);
    w->lut = malloc(32768);
    if (!w->gif || !w->cmap || !w->indices || !w->lut) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", w->path);
    int n = build_palette(w->cmap->Colors);
    build_lut(w->cmap->Colors, n, w->lut);
    EGifSetGifVersion(w->gif, true);
    if (EGifPutScreenDesc(w->gif, w->width, w->height, 8, 0, w->cmap) == GIF_ERROR)
        return dr_err_set(err, DR_EIO, "%s: cannot write the GIF header: %s", w->path, GifErrorString(w->gif->Error));
    /* NETSCAPE2.0 application extension: loop forever. */
    static const GifByteType loop[3] = {1, 0, 0};
    if (EGifPutExtensionLeader(w->gif, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
        EGifPutExtensionBlock(w->gif, 11, "NETSCAPE2.0") == GIF_ERROR || EGifPutExtensionBlock(w->gif, 3, loop) == GIF_ERROR ||
        EGifPutExtensionTrailer(w->gif) == GIF_ERROR)
        return dr_err_set(err, DR_EIO, "%s: cannot write the GIF loop block", w->path);
    return DR_OK;
}

static int gif_write(dr_video_writer *w, const dr_image *img, dr_err *err) {
    /* GIF delays are in 1/100 s: spread the rounding so that the total time is exact. */
    int delay = (int)(lround(100.0 * (double)(w->frames + 1) / w->fps) - lround(100.0 * (double)w->frames / w->fps));
    GraphicsControlBlock gcb = {DISPOSAL_UNSPECIFIED, false, delay, NO_TRANSPARENT_COLOR};
    GifByteType ext[4];
    EGifGCBToExtension(&gcb, ext);
    if (EGifPutExtension(w->gif, GRAPHICS_EXT_FUNC_CODE, 4, ext) == GIF_ERROR ||
        EGifPutImageDesc(w->gif, 0, 0, w->width, w->height, false, NULL) == GIF_ERROR)
        return dr_err_set(err, DR_EIO, "%s: cannot write frame %ld", w->path, w->frames);
    for (int y = 0; y < w->height; y++) {
        const uint8_t *p = img->rgb + (size_t)y * 3 * (size_t)w->width;
        for (int x = 0; x < w->width; x++, p += 3) w->indices[x] = w->lut[(p[0] >> 3) << 10 | (p[1] >> 3) << 5 | p[2] >> 3];
        if (EGifPutLine(w->gif, w->indices, w->width) == GIF_ERROR)
            return dr_err_set(err, DR_EIO, "%s: cannot write frame %ld", w->path, w->frames);
    }
    return DR_OK;
}

static void gif_free(dr_video_writer *w) {
    if (w->gif) {
        int gerr;
        EGifCloseFile(w->gif, &gerr);
        w->gif = NULL;
    }
    GifFreeMapObject(w->cmap);
    w->cmap = NULL;
    free(w->indices);
    free(w->lut);
    w->indices = NULL;
    w->lut = NULL;
}

static int gif_close(dr_video_writer *w, dr_err *err) {
    int gerr = 0, ok = EGifCloseFile(w->gif, &gerr);
    w->gif = NULL;
    gif_free(w);
    if (ok == GIF_ERROR) {
        dr_atomic_abort(&w->af);
        return dr_err_set(err, DR_EIO, "%s: cannot finish the GIF: %s", w->path, GifErrorString(gerr));
    }
    return dr_atomic_commit(&w->af, err);
}

/* ---- the writer ----------------------------------------------------------------- */

int dr_video_open(dr_video_writer **out, const char *path, dr_video_format fmt, int width, int height, float fps,
                  dr_err *err) {
    *out = NULL;
    if (width < 2 || height < 2 || width > 8192 || height > 8192)
        return dr_err_set(err, DR_EINVAL, "%s: frame size %dx%d outside 2..8192", path, width, height);
    if (!(fps > 0 && fps <= 240)) return dr_err_set(err, DR_EINVAL, "%s: fps %g outside (0, 240]", path, (double)fps);
    if (fmt == DR_VIDEO_GIF && (width > 65535 || height > 65535))
        return dr_err_set(err, DR_EINVAL, "%s: too large for GIF", path);
    dr_video_writer *w = calloc(1, sizeof *w);
    if (!w) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    if (strlen(path) >= sizeof w->path) {
        free(w);
        return dr_err_set(err, DR_ERANGE, "path too long: %s", path);
    }
    snprintf(w->path, sizeof w->path, "%s", path);
    w->fmt = fmt, w->width = width, w->height = height, w->fps = fps;
    int rc = fmt == DR_VIDEO_MP4 ? mp4_open(w, err) : gif_open(w, err);
    if (rc) {
        dr_video_abort(w);
        return rc;
    }
    *out = w;
    return DR_OK;
}

int dr_video_write(dr_video_writer *w, const dr_image *frame, dr_err *err) {
    if (frame->width != w->width || frame->height != w->height)
        return dr_err_set(err, DR_EINVAL, "%s: frame %ld is %dx%d, the video is %dx%d", w->path, w->frames,
                          frame->width, frame->height, w->width, w->height);
    int rc = w->fmt == DR_VIDEO_MP4 ? mp4_write(w, frame, err) : gif_write(w, frame, err);
    if (!rc) w->frames++;
    return rc;
}

int dr_video_close(dr_video_writer *w, dr_err *err) {
    int rc;
    if (w->frames == 0) {
        rc = dr_err_set(err, DR_EINVAL, "%s: no frames were written", w->path);
        dr_video_abort(w);
        return rc;
    }
    rc = w->fmt == DR_VIDEO_MP4 ? mp4_close(w, err) : gif_close(w, err);
    free(w);
    return rc;
}

void dr_video_abort(dr_video_writer *w) {
    if (!w) return;
    if (w->fmt == DR_VIDEO_MP4) {
        mp4_free(w);
        if (w->tmp_path[0]) unlink(w->tmp_path);
    } else {
        gif_free(w);
        dr_atomic_abort(&w->af);
    }
    free(w);
}
