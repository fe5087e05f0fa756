#include "common/fs_walk.h"
