#include "common/delta.h"
