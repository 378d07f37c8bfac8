/* pose_draw.h - skeleton frames exactly as ControlNet's OpenPose annotator draws them.
 *
 * The frames are a drop-in pose condition for ControlNet / AnimateDiff / ComfyUI, so the
 * drawing reproduces controlnet_aux `open_pose/util.py` `draw_bodypose` pixel for pixel:
 * its limb order and colours, limbs as filled ellipse polygons (OpenCV `ellipse2Poly` +
 * `fillConvexPoly`) at 0.6 intensity, then keypoint discs of radius 4 (OpenCV `circle`),
 * on a black background. Pose coordinates refer to a canvas of pose_width x pose_height
 * pixels and are scaled to the image when its size differs (controlnet_aux likewise
 * scales normalized keypoints by the output size). */
#ifndef DIRECTOR_RENDER_POSE_DRAW_H
#define DIRECTOR_RENDER_POSE_DRAW_H

#include "pose/skeleton.h"
#include "render/image.h"

/* Stick half-width and keypoint radius of draw_bodypose (`stickwidth = 4`, `cv2.circle(.., 4, ..)`). */
#define DR_POSE_STICK_WIDTH 4
#define DR_POSE_KEYPOINT_RADIUS 4

/* Draw `pose` over the current contents of `img` (limbs, then keypoints). */
void dr_draw_pose(dr_image *img, const dr_pose *pose, int pose_width, int pose_height);
/* Clear `img` to black and draw `pose`: one ControlNet condition frame. */
void dr_render_pose(dr_image *img, const dr_pose *pose, int pose_width, int pose_height);

/* The colour draw_bodypose paints limb `i` with: int(0.6 * c) per channel of colour i. */
void dr_pose_limb_color(int limb, uint8_t rgb[3]);

/* The OpenCV primitives draw_bodypose uses, exposed for tests. Pixels outside the image
 * are clipped. */
/* cv2.ellipse2Poly(center, axes, angle, 0, 360, 1): writes up to 362 points (x, y pairs),
 * returns the count (consecutive duplicates removed, as OpenCV does). */
int dr_ellipse_poly(int cx, int cy, int half_w, int half_h, int angle_deg, int *pts);
/* cv2.fillConvexPoly(img, pts, color) with the default 8-connected outline. */
void dr_fill_convex_poly(dr_image *img, const int *pts, int npts, const uint8_t rgb[3]);
/* cv2.circle(img, center, radius, color, thickness=-1). */
void dr_fill_circle(dr_image *img, int cx, int cy, int radius, const uint8_t rgb[3]);

#endif
