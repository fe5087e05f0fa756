#include "common/subprocess.h"
