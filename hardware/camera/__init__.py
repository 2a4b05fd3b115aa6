"""Camera frame sources (V4L2, video file, image folder, MJPEG URL) and a loopback MJPEG server."""
