#include <png.h>

// PNG_IMAGE_VERSION and the PNG_FORMAT_* values are plain macros; expose them as
// functions so Swift does not depend on how the importer treats them.
static inline png_uint_32 cpng_image_version(void) { return PNG_IMAGE_VERSION; }
static inline png_uint_32 cpng_format_rgb(void) { return PNG_FORMAT_RGB; }
