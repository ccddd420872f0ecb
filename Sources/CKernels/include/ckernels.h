// CKernels: INT8 micro-kernels for resnet-edge (umbrella header for the Swift module).
//
// Layout after XNNPACK/QNNPACK: one public header per kernel family, one kernel per file named
// <datatype>-<op>-<tile>-<epilogue>-<isa>.c, a single config.c choosing kernels from CPU features.
#pragma once

#include "ck-common.h"
#include "ck-requantization.h"
#include "ck-params.h"
#include "ck-qs8-qc8w-gemm.h"
#include "ck-qs8-qc8w-dwconv.h"
#include "ck-qs8-vadd.h"
#include "ck-s8-maxpool.h"
#include "ck-qs8-gavgpool.h"
#include "ck-pack.h"
#include "ck-indirection.h"
#include "ck-config.h"
#include "ck-crc32.h"
