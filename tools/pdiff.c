/* placeholder, replaced below */
#include "pdiff.h"
int main(void) { return 0; }
