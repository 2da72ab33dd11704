#include "host/cli/commands.hpp"

namespace annforge::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> all{
      {plan_spec, run_plan},       {build_spec, run_build},   {extend_spec, run_extend},
      {search_spec, run_search},
      {ground_truth_spec, run_ground_truth},
      {info_spec, run_info},       {export_spec, run_export}, {generate_spec, run_generate},
      {convert_spec, run_convert},
  };
  return all;
}

}  // namespace annforge::cli
