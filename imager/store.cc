#include "imager/store.h"
