#include "cchorus.h"
