#include <gtest/gtest.h>
#include "annforge.hpp"
TEST(Smoke, Links) { EXPECT_EQ(annforge::element_size(annforge::ElementType::Float32), 4u); }
