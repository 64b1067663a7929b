// The six translations (docs/DESIGN.md section 1) through the one decoding loop: the task table,
// the shared inputs, and one header per task.
#pragma once

#include "umt/tasks/amt.hpp"
#include "umt/tasks/engrave.hpp"
#include "umt/tasks/image_audio.hpp"
#include "umt/tasks/inputs.hpp"
#include "umt/tasks/omr.hpp"
#include "umt/tasks/synth.hpp"
#include "umt/tasks/task_table.hpp"
