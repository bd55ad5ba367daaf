#pragma once
// EXPECT_SHAPE_ERROR, shared by the tensor tests.
#include <gtest/gtest.h>

#include <string>

#include "tensor/tensor.h"

// Expects `stmt` to throw rbe::ShapeError whose message contains `needle`.
#define EXPECT_SHAPE_ERROR(stmt, needle)                                            \
  do {                                                                              \
    try {                                                                           \
      stmt;                                                                         \
      ADD_FAILURE() << "expected ShapeError from " #stmt;                            \
    } catch (const rbe::ShapeError& e) {                                            \
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what(); \
    }                                                                               \
  } while (0)
