#include "common/archive.h"
